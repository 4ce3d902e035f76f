"""Writes on companies, contacts and notes.

Callers load the subject through a selector's access door with `write=True`
(`company_get_for_user`, `contact_get_for_user`); these functions do not repeat that check.
They do check the rules that depend on the input itself: the team a company goes to, who may
own it, and which company a contact is filed under.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import Membership, Team, User
from crm.models import Company, Contact, Note, Tier
from crm.rules import RuleError
from crm.selectors import can_edit_company, can_set_tier
from crm.services_tiers import KEEP_TIER, company_tier_set
from crm.transactions import atomic_with_retry


class CrmRuleError(RuleError):
    """A write refused by a rule; `field` names the form field the message belongs to."""


def _check_team(*, acting_user: User, team: Team) -> None:
    access = access_for(acting_user)
    if not (access.is_admin or team.pk in access.team_ids):
        raise CrmRuleError(_("You can only file companies under your own teams."), field="team")


def _check_owner(
    *, acting_user: User, team: Team, owner: User | None, current_owner_id: int | None
) -> None:
    if owner is not None and not Membership.objects.filter(user=owner, team=team).exists():
        raise CrmRuleError(
            _("%(user)s is not a member of %(team)s.") % {"user": owner, "team": team},
            field="owner",
        )
    owner_id = owner.pk if owner is not None else None
    if owner_id in (current_owner_id, acting_user.pk):
        return
    if not access_for(acting_user).manages_team(team.pk):
        raise CrmRuleError(
            _("Only a manager of the team can give a company to someone else."), field="owner"
        )


def _check_tier(*, acting_user: User, team_id: int) -> None:
    if not can_set_tier(user=acting_user, team_id=team_id):
        raise CrmRuleError(
            _("Only a manager of the team or an admin can set a tier by hand."), field="tier"
        )


def _check_company_editable(*, acting_user: User, company: Company) -> None:
    visible = Company.objects.visible_to(acting_user).filter(pk=company.pk).exists()
    if not (visible and can_edit_company(user=acting_user, company=company)):
        raise CrmRuleError(
            _("You can only file contacts under companies you may change."), field="company"
        )


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
    _check_team(acting_user=acting_user, team=team)
    _check_owner(acting_user=acting_user, team=team, owner=owner, current_owner_id=None)
    if tier not in (KEEP_TIER, None):
        _check_tier(acting_user=acting_user, team_id=team.pk)
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
    _check_team(acting_user=acting_user, team=team)
    _check_owner(acting_user=acting_user, team=team, owner=owner, current_owner_id=locked.owner_id)
    tier_changed = False
    if tier != KEEP_TIER:
        _check_tier(acting_user=acting_user, team_id=locked.team_id)
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
        return tier_changed
    for field, value in values.items():
        setattr(locked, field, value)
        setattr(company, field, value)
    locked.save(update_fields=[*changed, "updated_at"])
    company.updated_at = locked.updated_at
    return True


@atomic_with_retry
def contact_create(
    *,
    acting_user: User,
    company: Company,
    name: str,
    email: str = "",
    phone: str = "",
    title: str = "",
) -> Contact:
    """Add a contact to `company`. Checks that the acting user may change that company (the
    form offers only such companies; this guards every other caller). Not idempotent."""
    _check_company_editable(acting_user=acting_user, company=company)
    return Contact.objects.create(
        company=company,
        name=name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        title=title.strip(),
    )


@atomic_with_retry
def contact_update(
    *,
    acting_user: User,
    contact: Contact,
    company: Company,
    name: str,
    email: str,
    phone: str,
    title: str,
) -> bool:
    """Change a contact, possibly moving it to another company; returns whether anything
    changed. Assumes the caller loaded `contact` with `contact_get_for_user(write=True)`;
    checks that the acting user may change the target company. Idempotent."""
    locked = Contact.objects.select_for_update(no_key=True).get(pk=contact.pk)
    if company.pk != locked.company_id:
        _check_company_editable(acting_user=acting_user, company=company)
    values = {
        "company_id": company.pk,
        "name": name.strip(),
        "email": email.strip(),
        "phone": phone.strip(),
        "title": title.strip(),
    }
    changed = [field for field, value in values.items() if getattr(locked, field) != value]
    if not changed:
        return False
    for field, value in values.items():
        setattr(locked, field, value)
        setattr(contact, field, value)
    contact.company = company
    locked.save(update_fields=[*changed, "updated_at"])
    contact.updated_at = locked.updated_at
    return True


@atomic_with_retry
def note_create(*, acting_user: User, subject, body: str) -> Note:
    """Add a note to a company, contact or deal. Not idempotent: each call adds a note."""
    from pipeline.models import Deal

    kwargs = {}
    if isinstance(subject, Company):
        kwargs["company"] = subject
    elif isinstance(subject, Contact):
        kwargs["contact"] = subject
    elif isinstance(subject, Deal):
        kwargs["deal"] = subject
    else:  # pragma: no cover - programming error
        raise TypeError(f"Notes cannot be attached to {type(subject).__name__}.")
    return Note.objects.create(author=acting_user, body=body.strip(), **kwargs)
