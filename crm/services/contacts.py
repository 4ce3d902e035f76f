"""Contacts: create and update."""

from __future__ import annotations

from accounts.models import User
from crm.models import Company, Contact
from crm.services.checks import check_company_editable
from crm.transactions import atomic_with_retry
from webhooks.models import EventType
from webhooks.services.events import contact_event


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
    check_company_editable(acting_user=acting_user, company=company)
    contact = Contact.objects.create(
        company=company,
        name=name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        title=title.strip(),
    )
    contact_event(EventType.CONTACT_CREATED, contact)
    return contact


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
        check_company_editable(acting_user=acting_user, company=company)
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
    contact_event(EventType.CONTACT_UPDATED, contact)
    return True
