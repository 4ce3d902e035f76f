"""Reads for the company and contact pages, and the access doors for companies and contacts.

Every read that works for a user starts from `Company.objects.visible_to(user)` (contacts follow
their company), so lists, searches, counts and detail pages agree. Deals shown beside a company
go through `Deal.objects.visible_to(user)`: seeing a company never reveals a deal the user may
not see.
"""

from __future__ import annotations

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

from accounts.models import User
from accounts.selectors import access_for
from crm.models import Company, Contact, Note
from pipeline.models import Deal, DealStatus

# --- access doors -------------------------------------------------------------------------


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


def contact_get_for_user(*, user: User, pk: int, write: bool = False) -> Contact:
    """The contact; 404 when missing or its company is not visible, 403 when `write` and the
    user may not change its company."""
    contact = (
        Contact.objects.visible_to(user)
        .select_related("company", "company__team", "company__owner")
        .filter(pk=pk)
        .first()
    )
    if contact is None:
        raise Http404
    if write and not can_edit_company(user=user, company=contact.company):
        raise PermissionDenied
    return contact


# --- lists --------------------------------------------------------------------------------


def _count_of(qs: QuerySet) -> Coalesce:
    """A correlated COUNT(*) over `qs` (already filtered on OuterRef), 0 when empty."""
    counted = qs.order_by().values("company_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def companies_for_user(*, user: User, q: str = "") -> QuerySet[Company]:
    """Visible companies, searched by name or domain, with `contact_count` and
    `open_deal_count` (open deals the user can see) annotated as subqueries: one query for
    the whole page, whatever the number of companies, contacts or deals."""
    qs = Company.objects.visible_to(user).select_related("owner")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(domain__icontains=q))
    contacts = Contact.objects.filter(company_id=OuterRef("pk"))
    open_deals = Deal.objects.visible_to(user).open().filter(company_id=OuterRef("pk"))
    return qs.annotate(
        contact_count=_count_of(contacts), open_deal_count=_count_of(open_deals)
    ).order_by("name", "pk")


def contacts_for_user(*, user: User, q: str = "") -> QuerySet[Contact]:
    """Visible contacts, searched by name, email or company name, with their company."""
    qs = Contact.objects.visible_to(user).select_related("company")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(company__name__icontains=q))
    return qs.order_by("name", "pk")


# --- detail pages -------------------------------------------------------------------------


def contacts_for_company(*, company: Company) -> QuerySet[Contact]:
    """The company's contacts; whoever sees the company sees all of them."""
    return company.contacts.order_by("name", "pk")


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


def deals_for_contact(*, contact: Contact, user: User) -> QuerySet[Deal]:
    """The contact's deals the user may see, newest first."""
    return (
        Deal.objects.visible_to(user)
        .filter(contact_id=contact.pk)
        .select_related("pipeline", "stage", "owner")
        .order_by("-created_at", "-pk")
    )


def notes_for(*, company: Company | None = None, contact: Contact | None = None):
    """Notes on a company or a contact, newest first, with their authors."""
    qs = Note.objects.select_related("author")
    if company is not None:
        return qs.filter(company_id=company.pk)
    return qs.filter(contact_id=contact.pk)
