"""The company and contact lists as downloads: the rows of the list the user sees, with its
filters, in columns the import reads back (crm.importing.headers).

The column names are in the downloading user's language; the import recognises them in
every language the CRM speaks (crm.importing.headers.EXPORT_COLUMNS), so an export re-imported
by anyone changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

from accounts.models import User
from crm.importing.headers import COMPANIES, CONTACTS, EXPORT_COLUMNS
from crm.models import Company, Contact
from crm.selectors.companies import companies_for_user
from crm.selectors.contacts import contacts_for_user

CHUNK = 2000

# The column names, lazily translated: written in the downloading user's language.
COMPANY_HEADER = [label for _key, label in EXPORT_COLUMNS[COMPANIES]]
CONTACT_HEADER = [label for _key, label in EXPORT_COLUMNS[CONTACTS]]


def _person(user: User | None) -> tuple[str, str]:
    if user is None:
        return "", ""
    return user.get_full_name() or user.username, user.email


def company_export_rows(*, user: User, q: str = "", tiers: tuple[str, ...] = ()) -> Iterator[list]:
    """The companies the list shows for these filters (all pages), read in chunks."""
    companies: Iterator[Company] = (
        companies_for_user(user=user, q=q, tiers=tiers)
        .select_related("owner")
        .iterator(chunk_size=CHUNK)
    )
    for company in companies:
        owner, owner_email = _person(company.owner)
        yield [
            company.name,
            company.domain,
            company.website,
            company.phone,
            company.address,
            company.country.code or "",
            company.registration_number,
            owner,
            owner_email,
            company.tier,
        ]


def contact_export_rows(*, user: User, q: str = "") -> Iterator[list]:
    """The contacts the list shows for this search (all pages), read in chunks."""
    contacts: Iterator[Contact] = contacts_for_user(user=user, q=q).iterator(chunk_size=CHUNK)
    for contact in contacts:
        yield [
            contact.name,
            contact.email,
            contact.phone,
            contact.title,
            contact.company.name,
            contact.company.domain,
        ]
