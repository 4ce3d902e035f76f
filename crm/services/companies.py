"""Companies: create and update (the tier by hand included)."""

from __future__ import annotations

from accounts.models import Team, User
from crm.models import Company, Tier
from crm.services.checks import check_owner, check_team, check_tier
from crm.services.tiers import KEEP_TIER, company_tier_set
from crm.transactions import atomic_with_retry
from webhooks.models import EventType
from webhooks.services.events import company_event


@atomic_with_retry
def company_create(
    *,
    acting_user: User,
    team: Team,
    name: str,
    domain: str = "",
    owner: User | None = None,
    tier: str | None = KEEP_TIER,
    website: str = "",
    phone: str = "",
    address: str = "",
    country: str = "",
    registration_number: str = "",
) -> Company:
    """Add a company to `team`.

    Assumes nothing about permissions beyond a signed-in user: checks that the team is one of
    the acting user's (any team for an admin), that the owner is a member of the team, that
    only a manager of the team (or an admin) makes someone else the owner, and that only they
    set a tier by hand (`tier` A/B/C; None or KEEP_TIER: computed). The contact details are
    stored as given (the form validates and normalises them). It does not look for
    duplicates: the view asks `company_duplicates_for_user` first and lets the user confirm.
    Not idempotent.
    """
    check_team(acting_user=acting_user, team=team)
    check_owner(acting_user=acting_user, team=team, owner=owner, current_owner_id=None)
    if tier not in (KEEP_TIER, None):
        check_tier(acting_user=acting_user, team_id=team.pk)
    company = Company.objects.create(
        team=team,
        name=name.strip(),
        domain=domain.strip(),
        owner=owner,
        tier=Tier.C,
        website=website.strip(),
        phone=phone.strip(),
        address=address.strip(),
        country=country,
        registration_number=registration_number.strip(),
    )
    if tier not in (KEEP_TIER, None):
        company_tier_set(acting_user=acting_user, company=company, tier=tier)
    company_event(EventType.COMPANY_CREATED, company)
    return company


def _stored(company: Company, field: str):
    value = getattr(company, field)
    return value.code if field == "country" else value  # a Country object, compared by code


@atomic_with_retry
def company_update(
    *,
    acting_user: User,
    company: Company,
    name: str,
    domain: str,
    team: Team,
    owner: User | None,
    tier: str | None = KEEP_TIER,
    website: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    country: str | None = None,
    registration_number: str | None = None,
) -> bool:
    """Change a company; returns whether anything changed (nothing is written otherwise).

    Assumes the caller loaded `company` with `company_get_for_user(write=True)`. Checks the
    same input rules as `company_create` for the new team and owner. `tier`: KEEP_TIER leaves
    the tier alone; A/B/C sets it by hand and keeps it; None hands it back to the recompute.
    Only a manager of the company's team or an admin may set or release a tier. The contact
    details (website, phone, address, country, registration number) are left alone when
    None. Idempotent: the same values twice change nothing the second time.
    """
    locked = Company.objects.select_for_update(no_key=True).get(pk=company.pk)
    check_team(acting_user=acting_user, team=team)
    check_owner(acting_user=acting_user, team=team, owner=owner, current_owner_id=locked.owner_id)
    tier_changed = False
    if tier != KEEP_TIER:
        check_tier(acting_user=acting_user, team_id=locked.team_id)
        tier_changed = company_tier_set(acting_user=acting_user, company=locked, tier=tier)
        company.tier, company.tier_locked = locked.tier, locked.tier_locked
    values = {
        "name": name.strip(),
        "domain": domain.strip(),
        "team_id": team.pk,
        "owner_id": owner.pk if owner is not None else None,
    }
    details = {
        "website": website,
        "phone": phone,
        "address": address,
        "country": country,
        "registration_number": registration_number,
    }
    values |= {field: value.strip() for field, value in details.items() if value is not None}
    changed = [field for field, value in values.items() if _stored(locked, field) != value]
    if not changed:
        if tier_changed:
            company_event(EventType.COMPANY_UPDATED, locked)
        return tier_changed
    for field, value in values.items():
        setattr(locked, field, value)
        setattr(company, field, value)
    locked.save(update_fields=[*changed, "updated_at"])
    company.updated_at = locked.updated_at
    company_event(EventType.COMPANY_UPDATED, locked)
    return True
