"""Notes on companies, contacts and deals."""

from __future__ import annotations

from accounts.models import User
from crm.models import Company, Contact, Note
from crm.transactions import atomic_with_retry


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
