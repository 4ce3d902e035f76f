"""/companies: list, read, add (with the duplicate check), change."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from accounts.access import access_for
from accounts.selectors import teams_for_user, users_visible_to
from crm import selectors, services
from crm.api.errors import BadInput, error_body
from crm.api.lookups import body_record, changes, sent
from crm.api.pagination import keyset_page, parse_datetime_value, parse_int
from crm.api.schemas.common import CREATE, LIST, READ, WRITE, Id
from crm.api.schemas.companies import (
    CompanyChange,
    CompanyCreate,
    CompanyOut,
    CompanyPage,
    CompanyQuery,
)
from crm.forms import normalise_domain
from crm.matching import web_host_key
from crm.services.tiers import KEEP_TIER

router = Router(tags=["companies"])

ORDER_FIELDS = {
    "name": str,
    "id": parse_int,
    "created_at": parse_datetime_value,
    "updated_at": parse_datetime_value,
}
DETAILS = ("website", "phone", "address", "country", "registration_number")


@router.get("/companies", response={200: CompanyPage, **LIST}, summary="List companies")
def company_list(request, query: Query[CompanyQuery]):
    """The companies the user can see, filtered like the Companies page."""
    companies = selectors.companies_for_user(
        user=request.user, q=query.q or "", tiers=tuple(sorted(set(query.tier))), with_counts=False
    )
    if query.team is not None:
        companies = companies.filter(team_id=query.team)
    if query.owner == "me":
        companies = companies.filter(owner_id=request.user.pk)
    elif query.owner == "none":
        companies = companies.filter(owner__isnull=True)
    elif query.owner is not None:
        companies = companies.filter(owner_id=int(query.owner))
    rows, cursor = keyset_page(
        companies, order=query.order, fields=ORDER_FIELDS, limit=query.limit, cursor=query.cursor
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/companies/{company_id}", response={200: CompanyOut, **READ}, summary="A company")
def company_detail(request, company_id: Id):
    return selectors.company_get_for_user(user=request.user, pk=company_id)


def _domain(domain: str, website: str) -> str:
    """The web domain, or, left empty, the website's (as the company form does)."""
    if domain or not website:
        return domain
    try:
        return normalise_domain(web_host_key(website))
    except ValidationError:  # an address like https://10.0.0.1 has no web domain
        return ""


def _duplicates(request, *, team, name, domain, website, company=None):
    matches = selectors.company_duplicates_for_user(
        user=request.user,
        team_id=team.pk,
        name=name,
        domain=domain,
        website=website,
        company=company,
    )
    if not matches:
        return None
    body = error_body(
        _("A company in the team looks the same. Send confirm_duplicate: true to save anyway."),
        "duplicate",
        duplicates=[{"id": m.company.pk, "name": m.company.name} for m in matches],
    )
    return Status(409, body)


@router.post("/companies", response={201: CompanyOut, **CREATE}, summary="Add a company")
def company_create(request, body: CompanyCreate):
    """Files the company under `team` (one of the user's teams; left out: their only team),
    owned by the user unless a manager of the team gives it to someone else."""
    user = request.user
    if body.team is None:
        teams = list(teams_for_user(user=user)[:2])
        if len(teams) != 1:
            raise BadInput.field("team", _("Choose the team to file the company under."))
        team = teams[0]
    else:
        team = body_record(teams_for_user(user=user), body.team, field="team")
    owner = body_record(users_visible_to(user=user), body.owner, field="owner")
    if not sent(body, "owner"):
        # Whoever adds it, when they are in the team (an admin filing under another team's
        # name leaves it to nobody, as the owner must be a member).
        owner = user if team.pk in access_for(user).team_ids else None
    domain = _domain(body.domain, body.website)
    if not body.confirm_duplicate:
        refused = _duplicates(
            request, team=team, name=body.name, domain=domain, website=body.website
        )
        if refused:
            return refused
    company = services.company_create(
        acting_user=user,
        team=team,
        name=body.name,
        domain=domain,
        owner=owner,
        tier=body.tier,
        **{field: getattr(body, field) for field in DETAILS},
    )
    return Status(201, company)


@router.patch(
    "/companies/{company_id}", response={200: CompanyOut, **WRITE}, summary="Change a company"
)
def company_update(request, company_id: Id, body: CompanyChange):
    """Changes the fields sent. Moving it to another team or owner follows the page's rules."""
    user = request.user
    company = selectors.company_get_for_user(user=user, pk=company_id, write=True)
    team = company.team
    if sent(body, "team"):
        team = body_record(teams_for_user(user=user), body.team, field="team")
    owner = company.owner
    if sent(body, "owner"):
        owner = body_record(users_visible_to(user=user), body.owner, field="owner")
    values = {"name": company.name, "domain": company.domain} | changes(body, ("name", "domain"))
    details = changes(body, DETAILS)
    if sent(body, "website") and not sent(body, "domain"):
        values["domain"] = _domain("", body.website) if not company.domain else company.domain
    if not body.confirm_duplicate and (sent(body, "name") or sent(body, "domain")):
        refused = _duplicates(
            request,
            team=team,
            name=values["name"],
            domain=values["domain"],
            website=details.get("website", company.website),
            company=company,
        )
        if refused:
            return refused
    services.company_update(
        acting_user=user,
        company=company,
        team=team,
        owner=owner,
        tier=body.tier if sent(body, "tier") else KEEP_TIER,
        **values,
        **details,
    )
    return selectors.company_get_for_user(user=user, pk=company.pk)
