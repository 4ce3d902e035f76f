"""Headers recognised without help: our own exports', HubSpot's and Pipedrive's."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from crm.importing.headers import (
    COMPANIES,
    CONTACTS,
    DEALS,
    FILE,
    HUBSPOT,
    PIPEDRIVE,
    detect_source,
    ignored_reason,
    normalise_header,
    recognise,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"


def header_of(name: str, encoding: str = "utf-8", delimiter: str = ",") -> list[str]:
    text = (FIXTURES / name).read_bytes().decode(encoding)
    return next(csv.reader(io.StringIO(text), delimiter=delimiter))


def mapped(headers, kind) -> dict[str, str]:
    return {h: key for h, key in zip(headers, recognise(headers, kind), strict=True) if key}


def test_hubspot_deals_export():
    headers = header_of("hubspot_deals.csv")
    assert detect_source(headers) == HUBSPOT
    assert mapped(headers, DEALS) == {
        "Record ID": "source_id",
        "Deal Name": "title",
        "Deal Stage": "stage",
        "Close Date": "expected_close_date",
        "Deal owner": "owner",
        "Amount": "value",
        "Create Date": "created_at",
        "Associated Company": "company_name",
        "Associated Contact": "contact_name",
    }
    assert ignored_reason("Pipeline")


def test_pipedrive_deals_export():
    headers = header_of("pipedrive_deals.csv")
    assert detect_source(headers) == PIPEDRIVE
    found = mapped(headers, DEALS)
    assert found["Deal - ID"] == "source_id"
    assert found["Deal - Title"] == "title"
    assert found["Deal - Value"] == "value"
    assert found["Deal - Currency"] == "currency"
    assert found["Deal - Stage"] == "stage"
    assert found["Deal - Status"] == "status"
    assert found["Deal - Owner"] == "owner"
    assert found["Deal - Organization"] == "company_name"
    assert found["Deal - Contact person"] == "contact_name"
    assert found["Person - Email"] == "contact_email"
    assert found["Deal - Lost reason"] == "lost_reason"
    # One column per field: the organization's name repeats the deal's organization.
    assert "Organization - Name" not in found
    assert "Deal - Creator" not in found


def test_pipedrive_organizations_export():
    headers = header_of("pipedrive_organizations.csv")
    assert detect_source(headers) == PIPEDRIVE
    assert mapped(headers, COMPANIES) == {
        "Organization - Name": "name",
        "Organization - Owner": "owner",
        "Organization - Address": "address",
    }


def test_hubspot_contacts_in_excel_unicode_text():
    headers = header_of("unicode_text_contacts.txt", "utf-16", "\t")
    assert mapped(headers, CONTACTS) == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Job Title": "title",
        "Associated Company": "company_name",
    }


def test_danish_headers_are_recognised():
    headers = header_of("danish_excel_deals.csv", "cp1252", ";")
    assert detect_source(headers) == FILE
    assert mapped(headers, DEALS) == {
        "Firma": "company_name",
        "Kontaktperson": "contact_name",
        "E-mail": "contact_email",
        "Titel": "title",
        "Beløb": "value",
        "Valuta": "currency",
        "Fase": "stage",
        "Ansvarlig": "owner",
        "Forventet lukkedato": "expected_close_date",
        "Oprettet": "created_at",
    }


def test_several_address_columns_all_fill_the_address():
    headers = ["Company name", "Street Address", "Postal Code", "City"]
    assert recognise(headers, COMPANIES) == ["name", "address", "address", "address"]


def test_headers_are_compared_without_case_spacing_or_punctuation():
    assert normalise_header("  Deal -  Expected close DATE ") == "deal expected close date"
    assert normalise_header("E-mail") == normalise_header("e mail")
    assert recognise(["DEAL NAME", "amount "], DEALS) == ["title", "value"]


def test_an_unknown_column_is_left_for_the_user():
    assert recognise(["Favourite colour"], DEALS) == [""]
