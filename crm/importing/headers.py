"""What a column can be imported as, and the columns recognised without help.

`FIELDS[kind]` lists the fields of companies, contacts and deals that a column can fill, each
with the type its cells are read as. `recognise(headers, kind)` proposes a field for every
column whose name is one of ours (the headers of our own exports), HubSpot's or Pipedrive's
(their export layouts), or a common name in the languages the CRM speaks; anything else is
left for the user to map or ignore. `detect_source(headers)` names the system the file came
from, which is kept with each deal's record id so a second import of the same export matches
instead of duplicating.

Pure: no database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

COMPANIES = "companies"
CONTACTS = "contacts"
DEALS = "deals"
KINDS = (COMPANIES, CONTACTS, DEALS)

# Cell types (crm.importing.records reads each).
TEXT = "text"
EMAIL = "email"
NUMBER = "number"
CURRENCY = "currency"
DATE = "date"
DATETIME = "datetime"
COUNTRY = "country"
DOMAIN = "domain"
WEBSITE = "website"
PHONE = "phone"
STATUS = "status"


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str = TEXT
    max_length: int = 200
    required: bool = False
    # Several columns may fill it, joined in column order (an address in parts).
    joins: bool = False


def _f(key, label, type=TEXT, max_length=200, **kwargs) -> Field:
    return Field(key=key, label=label, type=type, max_length=max_length, **kwargs)


_OWNER = _f("owner", _("Owner (name or e-mail)"), max_length=254)
_OWNER_EMAIL = _f("owner_email", _("Owner e-mail"), EMAIL, max_length=254)
_COMPANY_NAME = _f("company_name", _("Company"))
_COMPANY_DOMAIN = _f("company_domain", _("Company web domain"), DOMAIN)

FIELDS: dict[str, tuple[Field, ...]] = {
    COMPANIES: (
        _f("name", _("Name"), required=True),
        _f("domain", _("Web domain"), DOMAIN),
        _f("website", _("Website"), WEBSITE),
        _f("phone", _("Phone"), PHONE, max_length=40),
        _f("address", _("Address"), max_length=500, joins=True),
        _f("country", _("Country"), COUNTRY),
        _f("registration_number", _("Registration number"), max_length=40),
        _OWNER,
        _OWNER_EMAIL,
    ),
    CONTACTS: (
        _f("name", _("Name")),
        _f("first_name", _("First name"), max_length=100),
        _f("last_name", _("Last name"), max_length=100),
        _f("email", _("E-mail"), EMAIL, max_length=254),
        _f("phone", _("Phone"), PHONE, max_length=40),
        _f("title", _("Job title"), max_length=120),
        _COMPANY_NAME,
        _COMPANY_DOMAIN,
    ),
    DEALS: (
        _f("title", _("Title"), required=True),
        _f("value", _("Value"), NUMBER),
        _f("currency", _("Currency"), CURRENCY),
        _f("stage", _("Stage"), max_length=100),
        _f("status", _("Status (open, won, lost)"), STATUS),
        _OWNER,
        _OWNER_EMAIL,
        _f("expected_close_date", _("Expected close date"), DATE),
        _f("created_at", _("Created"), DATETIME),
        _f("closed_at", _("Closed"), DATETIME),
        _f("lost_reason", _("Lost reason"), max_length=100),
        _COMPANY_NAME,
        _COMPANY_DOMAIN,
        _f("contact_name", _("Contact")),
        _f("contact_email", _("Contact e-mail"), EMAIL, max_length=254),
        _f("contact_phone", _("Contact phone"), PHONE, max_length=40),
        _f("next_step", _("Next step")),
        _f("next_step_due", _("Next step due"), DATE),
        _f("source_system", _("Source system"), max_length=40),
        _f("source_id", _("Record id in the source system"), max_length=100),
    ),
}
FIELD_BY_KEY = {kind: {f.key: f for f in fields} for kind, fields in FIELDS.items()}

# Headers known to hold something we deliberately do not import (computed here, or
# meaningless in this CRM): recognised, and proposed as "ignore" with this reason.
KNOWN_IGNORED = {
    "tier": _("tiers are computed from the deals"),
    "pipeline": _("deals go into the pipeline you choose"),
    "deal pipeline": _("deals go into the pipeline you choose"),
}


# Our own downloads' columns, in order: (the field the import fills from it, or the
# KNOWN_IGNORED name it is left out as; its name). crm.selectors.exports and
# pipeline.selectors.exports write the names in the downloading user's language, and the
# import recognises them in every language the CRM speaks (`_own_headers`), so a Danish
# export imported by a German user maps every column.
EXPORT_COLUMNS = {
    COMPANIES: (
        ("name", _("Name")),
        ("domain", _("Web domain")),
        ("website", _("Website")),
        ("phone", _("Phone")),
        ("address", _("Address")),
        ("country", _("Country")),
        ("registration_number", _("Registration number")),
        ("owner", _("Owner")),
        ("owner_email", _("Owner email")),
        ("tier", _("Tier")),
    ),
    CONTACTS: (
        ("name", _("Name")),
        ("email", _("E-mail")),
        ("phone", _("Phone")),
        ("title", _("Job title")),
        ("company_name", _("Company")),
        ("company_domain", _("Company web domain")),
    ),
    DEALS: (
        ("title", _("Title")),
        ("company_name", _("Company")),
        ("company_domain", _("Company web domain")),
        ("contact_name", _("Contact")),
        ("contact_email", _("Contact e-mail")),
        ("pipeline", _("Pipeline")),
        ("stage", _("Stage")),
        ("status", _("Status")),
        ("owner", _("Owner")),
        ("owner_email", _("Owner email")),
        ("value", _("Value")),
        ("currency", _("Currency")),
        ("expected_close_date", _("Expected close date")),
        ("created_at", _("Created")),
        ("closed_at", _("Closed")),
        ("lost_reason", _("Lost reason")),
        ("next_step", _("Next step")),
        ("next_step_due", _("Next step due")),
        ("source_system", _("Source system")),
        ("source_id", _("Source ID")),
    ),
}


def normalise_header(name: str) -> str:
    """Case, accents, punctuation and spacing folded: "Deal - Expected close date" ->
    "deal expected close date", "E-mail" -> "e mail", "Beløb" -> "beløb" (letters kept)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _aliases(table: dict[str, str]) -> dict[str, str]:
    """{normalised header: field key} from {field key: "Header|Other header|..."}."""
    found = {}
    for key, names in table.items():
        for name in names.split("|"):
            found[normalise_header(name)] = key
    return found


# Our own exports (in English; EXPORT_COLUMNS adds every language), HubSpot's and
# Pipedrive's export layouts, and common names in English, Danish, Norwegian, Swedish and German.
_COMPANY_ALIASES = {
    "name": (
        "Name|Company name|Company|Organization - Name|Organization name|Organisation|Firma|"
        "Firmanavn|Virksomhed|Virksomhedsnavn|Navn|Företag|Företagsnamn|Namn|Firmenname|"
        "Unternehmen"
    ),
    "domain": "Web domain|Domain|Company Domain Name|Organization - Domain|Domæne|Domene|Domän",
    "website": (
        "Website|Website URL|Organization - Website|Hjemmeside|Webside|Nettside|Hemsida|Webseite|"
        "URL"
    ),
    "phone": "Phone|Phone Number|Organization - Phone|Telefon|Telefonnummer|Tlf",
    "address": (
        "Address|Street Address|Street Address 2|City|Postal Code|Zip|Organization - Address|"
        "Adresse|Adress|Postnummer|By|Ort|Stadt|Postleitzahl|PLZ"
    ),
    "country": "Country|Country/Region|Organization - Country|Land",
    "registration_number": (
        "Registration number|CVR|CVR-nummer|CVR nr|Org.nr|Organisasjonsnummer|Organisationsnummer|"
        "VAT number|VAT|USt-IdNr"
    ),
    "owner": (
        "Owner|Company owner|Organization - Owner|Ansvarlig|Ejer|Eier|Ägare|Besitzer|Verantwortlich"
    ),
    "owner_email": "Owner email|Owner e-mail",
}
_CONTACT_ALIASES = {
    "name": "Name|Full name|Person - Name|Contact|Contact name|Navn|Kontakt|Kontaktperson|Namn",
    "first_name": "First Name|Person - First name|Fornavn|Förnamn|Vorname",
    "last_name": "Last Name|Person - Last name|Efternavn|Etternavn|Efternamn|Nachname",
    "email": (
        "Email|E-mail|Email address|Person - Email|Person - Email - Work|Person - Email - Home|"
        "Person - Email - Other|E-post|E-Mail-Adresse|Mail"
    ),
    "phone": (
        "Phone|Phone Number|Mobile Phone Number|Person - Phone|Person - Phone - Work|"
        "Person - Phone - Mobile|Telefon|Mobil|Tlf"
    ),
    "title": "Job title|Job Title|Title|Person - Job title|Stilling|Titel|Befattning|Position",
    "company_name": (
        "Company|Company name|Associated Company|Associated Company (Primary)|"
        "Person - Organization|Organization - Name|Organization|Firma|Virksomhed|Företag|"
        "Unternehmen"
    ),
    "company_domain": "Company web domain|Company Domain Name",
}
_DEAL_ALIASES = {
    "title": "Title|Deal Name|Deal - Title|Deal|Deal title|Name|Titel|Salgsmulighed|Affär|Geschäft",
    "value": "Value|Amount|Deal - Value|Deal value|Beløb|Værdi|Verdi|Belopp|Värde|Betrag|Wert",
    "currency": (
        "Currency|Deal - Currency|Deal - Currency of Value|Deal currency code|Valuta|Währung"
    ),
    "stage": "Stage|Deal Stage|Deal - Stage|Fase|Stadie|Steg|Phase",
    "status": "Status|Deal - Status",
    "owner": "Owner|Deal owner|Deal - Owner|Ansvarlig|Ejer|Eier|Ägare|Verantwortlich",
    "owner_email": "Owner email|Owner e-mail",
    "expected_close_date": (
        "Expected close date|Close Date|Deal - Expected close date|Forventet lukkedato|Lukkedato|"
        "Förväntat avslut|Abschlussdatum"
    ),
    "created_at": (
        "Created|Create Date|Deal - Deal created|Deal - Add time|Oprettet|Opprettet|Skapad|Erstellt"
    ),
    "closed_at": "Closed|Deal - Close time|Deal - Won time|Deal - Lost time|Lukket|Closed date",
    "lost_reason": "Lost reason|Closed Lost Reason|Deal - Lost reason|Tabsårsag",
    "company_name": (
        "Company|Associated Company|Associated Company (Primary)|Company name|Deal - Organization|"
        "Organization - Name|Organization|Firma|Virksomhed|Kunde|Företag|Unternehmen"
    ),
    "company_domain": "Company web domain|Company Domain Name|Domain",
    "contact_name": (
        "Contact|Associated Contact|Associated Contact (Primary)|Deal - Contact person|"
        "Person - Name|Contact name|Kontaktperson"
    ),
    # In a deals file a plain e-mail column is the contact's.
    "contact_email": (
        "Contact email|Contact e-mail|Person - Email|Person - Email - Work|Email|E-mail|E-post"
    ),
    "contact_phone": "Contact phone|Person - Phone|Person - Phone - Work",
    "next_step": "Next step|Næste skridt",
    "next_step_due": "Next step due",
    "source_system": "Source system",
    "source_id": "Source ID|Record ID|Deal - ID|Deal ID",
}
ALIASES = {
    COMPANIES: _aliases(_COMPANY_ALIASES),
    CONTACTS: _aliases(_CONTACT_ALIASES),
    DEALS: _aliases(_DEAL_ALIASES),
}

HUBSPOT = "hubspot"
PIPEDRIVE = "pipedrive"
FILE = "file"  # any other file: its record ids are kept as this system's

SOURCE_LABELS = {HUBSPOT: "HubSpot", PIPEDRIVE: "Pipedrive", FILE: _("a spreadsheet")}

_HUBSPOT_MARKS = {
    normalise_header(name)
    for name in (
        "Record ID",
        "Deal Name",
        "Deal Stage",
        "Deal owner",
        "Company owner",
        "Contact owner",
        "Company Domain Name",
        "Associated Company",
        "Associated Contact",
        "Lifecycle Stage",
        "Create Date",
    )
}
# Pipedrive names every column "<Entity> - <field>".
_PIPEDRIVE_RE = re.compile(r"^\s*(Deal|Organization|Person|Product|Activity|Lead) - ", re.I)


def detect_source(headers: list[str]) -> str:
    """HUBSPOT or PIPEDRIVE when the header is theirs, else FILE."""
    if sum(bool(_PIPEDRIVE_RE.match(header)) for header in headers) >= 2:
        return PIPEDRIVE
    names = [normalise_header(h) for h in headers]
    if normalise_header("Record ID") in names and sum(n in _HUBSPOT_MARKS for n in names) >= 2:
        return HUBSPOT
    return FILE


@cache
def _own_headers(kind: str) -> tuple[dict[str, str], dict[str, Promise]]:
    """Our own export's column names in every language of settings.LANGUAGES, normalised:
    ({name: field key}, {name: why it is ignored, translated when read}). Built once per
    process (the catalogues do not change while it runs)."""
    fields, ignored = {}, {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for key, label in EXPORT_COLUMNS[kind]:
                name = normalise_header(str(label))
                if key in FIELD_BY_KEY[kind]:
                    fields[name] = key
                else:
                    ignored[name] = KNOWN_IGNORED[key]
    return fields, ignored


def recognise(headers: list[str], kind: str) -> list[str]:
    """A field key (or "" to ignore) for each column, as proposed before the user looks: a
    recognised name maps to its field, once per field (the first such column wins) unless
    the field joins several columns (an address in parts). Our own export's names, in any
    language, come before the other names known."""
    own = _own_headers(kind)[0]
    aliases = ALIASES[kind]
    fields = FIELD_BY_KEY[kind]
    taken: set[str] = set()
    proposal = []
    for header in headers:
        name = normalise_header(header)
        key = own.get(name) or aliases.get(name, "")
        if key and key in taken and not fields[key].joins:
            key = ""
        if key:
            taken.add(key)
        proposal.append(key)
    return proposal


def ignored_reason(header: str) -> str:
    """Why a recognised column is left out on purpose ("" when it is not one of those), in
    the active language, whichever language the column is named in."""
    name = normalise_header(header)
    if name in KNOWN_IGNORED:
        return str(KNOWN_IGNORED[name])
    for kind in KINDS:
        reason = _own_headers(kind)[1].get(name)
        if reason is not None:
            return str(reason)
    return ""
