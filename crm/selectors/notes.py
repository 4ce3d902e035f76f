"""Notes on a company or a contact."""

from __future__ import annotations

from crm.models import Company, Contact, Note


def notes_for(*, company: Company | None = None, contact: Contact | None = None):
    """Notes on a company or a contact, newest first, with their authors."""
    qs = Note.objects.select_related("author")
    if company is not None:
        return qs.filter(company_id=company.pk)
    return qs.filter(contact_id=contact.pk)
