"""/contacts: list, read, add, change."""

from __future__ import annotations

from ninja import Query, Router, Status

from crm import selectors, services
from crm.api.lookups import body_record, changes, sent
from crm.api.pagination import keyset_page, parse_datetime_value, parse_int
from crm.api.schemas.common import CREATE, LIST, READ, WRITE, Id
from crm.api.schemas.contacts import (
    ContactChange,
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactQuery,
)
from crm.models import Company

router = Router(tags=["contacts"])

ORDER_FIELDS = {
    "name": str,
    "id": parse_int,
    "created_at": parse_datetime_value,
    "updated_at": parse_datetime_value,
}
FIELDS = ("name", "email", "phone", "title")


@router.get("/contacts", response={200: ContactPage, **LIST}, summary="List contacts")
def contact_list(request, query: Query[ContactQuery]):
    """The contacts of the companies the user can see, filtered like the Contacts page."""
    contacts = selectors.contacts_for_user(user=request.user, q=query.q or "")
    if query.company is not None:
        contacts = contacts.filter(company_id=query.company)
    rows, cursor = keyset_page(
        contacts.select_related(None),
        order=query.order,
        fields=ORDER_FIELDS,
        limit=query.limit,
        cursor=query.cursor,
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/contacts/{contact_id}", response={200: ContactOut, **READ}, summary="A contact")
def contact_detail(request, contact_id: Id):
    return selectors.contact_get_for_user(user=request.user, pk=contact_id)


@router.post("/contacts", response={201: ContactOut, **CREATE}, summary="Add a contact")
def contact_create(request, body: ContactCreate):
    """Under a company the user may change (its owner, unassigned, or a manager's team)."""
    company = body_record(Company.objects.visible_to(request.user), body.company, field="company")
    contact = services.contact_create(
        acting_user=request.user, company=company, **{f: getattr(body, f) for f in FIELDS}
    )
    return Status(201, contact)


@router.patch(
    "/contacts/{contact_id}", response={200: ContactOut, **WRITE}, summary="Change a contact"
)
def contact_update(request, contact_id: Id, body: ContactChange):
    user = request.user
    contact = selectors.contact_get_for_user(user=user, pk=contact_id, write=True)
    company = contact.company
    if sent(body, "company"):
        company = body_record(Company.objects.visible_to(user), body.company, field="company")
    values = {f: getattr(contact, f) for f in FIELDS} | changes(body, FIELDS)
    services.contact_update(acting_user=user, contact=contact, company=company, **values)
    return selectors.contact_get_for_user(user=user, pk=contact.pk)
