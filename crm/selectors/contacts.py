"""Contacts: the access door, the list, a contact's deals."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Q,
    QuerySet,
)
from django.http import Http404

from accounts.models import User
from crm.collation import by_name
from crm.models import Contact
from crm.selectors.companies import can_edit_company
from pipeline.models import Deal


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


def contacts_for_user(*, user: User, q: str = "") -> QuerySet[Contact]:
    """Visible contacts, searched by name, email or company name, with their company."""
    qs = Contact.objects.visible_to(user).select_related("company")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(company__name__icontains=q))
    return qs.order_by(*by_name("name"), "pk")


def deals_for_contact(*, contact: Contact, user: User) -> QuerySet[Deal]:
    """The contact's deals the user may see, newest first."""
    return (
        Deal.objects.visible_to(user)
        .filter(contact_id=contact.pk)
        .select_related("pipeline", "stage", "owner")
        .order_by("-created_at", "-pk")
    )
