"""Companies: the access doors, the list, the duplicate check, a company's deals and contacts.

Every read that works for a user starts from `Company.objects.visible_to(user)`: another
team's company is a 404, a visible one the user may not change a 403."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.access import access_for
from accounts.models import User
from crm.collation import by_name
from crm.matching import company_name_key, web_host_key
from crm.models import Company, Contact
from pipeline.models import Deal, DealStatus


def can_edit_company(*, user: User, company: Company) -> bool:
    """Whether the user may edit the company and its contacts and add notes to them.

    Admins and managers of the company's team may; a salesperson of that team may when they
    own the company or nobody does. The company must already be visible to the user.
    """
    access = access_for(user)
    if access.manages_team(company.team_id):
        return True
    return company.team_id in access.team_ids and company.owner_id in (None, user.pk)


def companies_editable_by(*, user: User) -> QuerySet[Company]:
    """Companies the user may change: the query twin of `can_edit_company`."""
    access = access_for(user)
    visible = Company.objects.visible_to(user)
    if access.is_admin:
        return visible
    return visible.filter(
        Q(team_id__in=access.managed_team_ids)
        | Q(team_id__in=access.team_ids) & (Q(owner_id=user.pk) | Q(owner__isnull=True))
    )


def company_get_for_user(*, user: User, pk: int, write: bool = False) -> Company:
    """The company; 404 when missing or not visible, 403 when `write` and the user may not
    change it."""
    company = Company.objects.visible_to(user).select_related("team", "owner").filter(pk=pk).first()
    if company is None:
        raise Http404
    if write and not can_edit_company(user=user, company=company):
        raise PermissionDenied
    return company


def _count_of(qs: QuerySet) -> Coalesce:
    """A correlated COUNT(*) over `qs` (already filtered on OuterRef), 0 when empty."""
    counted = qs.order_by().values("company_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def companies_for_user(
    *, user: User, q: str = "", tiers: tuple[str, ...] = (), with_counts: bool = True
) -> QuerySet[Company]:
    """Visible companies, searched by name or domain and filtered to `tiers` (validated
    A/B/C; empty: all), with `contact_count` and `open_deal_count` (open deals the user can
    see) annotated as subqueries: one query for the whole page, whatever the number of
    companies, contacts or deals. `with_counts` False (the API) leaves out the counts and
    the owner."""
    qs = Company.objects.visible_to(user)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(domain__icontains=q))
    if tiers:
        qs = qs.filter(tier__in=tiers)
    if not with_counts:
        return qs.order_by(*by_name("name"), "pk")
    qs = qs.select_related("owner")
    contacts = Contact.objects.filter(company_id=OuterRef("pk"))
    open_deals = Deal.objects.visible_to(user).open().filter(company_id=OuterRef("pk"))
    return qs.annotate(
        contact_count=_count_of(contacts), open_deal_count=_count_of(open_deals)
    ).order_by(*by_name("name"), "pk")


@dataclass(frozen=True)
class CompanyMatch:
    """An existing company that looks like the one being added, and why."""

    company: Company
    same_name: bool
    same_domain: bool


def company_duplicates_for_user(
    *,
    user: User,
    team_id: int,
    name: str,
    domain: str = "",
    website: str = "",
    company: Company | None = None,
    limit: int = 5,
) -> list[CompanyMatch]:
    """Companies of team `team_id` that the user can see and whose name is the same once
    folded (`company_name_key`: case, accents, punctuation, legal form) or whose web domain
    or website has the same host (without "www."), best first: same name and domain, then
    same name, then by name.

    Only the companies the user can see are compared, so the answer never reveals another
    team's company or one hidden by "own deals only". When `company` is being edited it is
    left out, and only what the edit changes is compared: a name whose key stays the same and
    hosts the company already has do not make an old pair of look-alikes a warning again.

    Two queries: the names, domains and websites of the team's visible companies (the keys
    are computed here, so a better normaliser applies to every row at once without a
    migration), then the matches with their owners.
    """
    name_key = company_name_key(name)
    hosts = {web_host_key(domain), web_host_key(website)} - {""}
    if company is not None:
        if name_key == company_name_key(company.name):
            name_key = ""
        hosts -= {web_host_key(company.domain), web_host_key(company.website)}
    if not name_key and not hosts:
        return []
    candidates = Company.objects.visible_to(user).filter(team_id=team_id)
    if company is not None:
        candidates = candidates.exclude(pk=company.pk)
    found: list[tuple[bool, bool, str, int]] = []
    rows = candidates.order_by().values_list("pk", "name", "domain", "website")
    for pk, other_name, other_domain, other_website in rows.iterator(chunk_size=2000):
        same_name = bool(name_key) and company_name_key(other_name) == name_key
        same_domain = bool(hosts & {web_host_key(other_domain), web_host_key(other_website)})
        if same_name or same_domain:
            found.append((same_name, same_domain, other_name, pk))
    found.sort(key=lambda f: (not (f[0] and f[1]), not f[0], f[2].casefold(), f[3]))
    found = found[:limit]
    if not found:
        return []
    companies = Company.objects.select_related("owner").in_bulk([f[3] for f in found])
    return [
        CompanyMatch(companies[pk], same_name, same_domain)
        for same_name, same_domain, _, pk in found
        if pk in companies  # not deleted in between
    ]


def contacts_for_company(*, company: Company) -> QuerySet[Contact]:
    """The company's contacts; whoever sees the company sees all of them."""
    return company.contacts.order_by(*by_name("name"), "pk")


def deals_for_company(*, company: Company, user: User) -> QuerySet[Deal]:
    """The company's deals the user may see, open ones first, then paused, won and lost,
    newest first within each status."""
    status_order = Case(
        When(status=DealStatus.OPEN, then=Value(0)),
        When(status=DealStatus.PAUSED, then=Value(1)),
        When(status=DealStatus.WON, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return (
        Deal.objects.visible_to(user)
        .filter(company_id=company.pk)
        .select_related("pipeline", "stage", "owner")
        .annotate(status_order=status_order)
        .order_by("status_order", "-created_at", "-pk")
    )
