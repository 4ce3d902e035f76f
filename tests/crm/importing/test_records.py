"""Rows to typed values: one reading per column, problems by row and column."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from crm.importing.errors import ERROR, WARNING
from crm.importing.files import open_table
from crm.importing.headers import COMPANIES, CONTACTS, DEALS, recognise
from crm.importing.records import RowReader, column_readings, profile_columns, unescape
from crm.importing.values import COMMA, DAY_FIRST, DOT, MONTH_FIRST

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
CURRENCIES = ("EUR", "DKK", "SEK", "NOK", "USD", "GBP")
COUNTRIES = {"norway": "NO", "germany": "DE", "denmark": "DK", "sweden": "SE", "dk": "DK"}


def read_all(data: bytes, kind: str, *, mapping=None, number_styles=None, date_orders=None):
    table = open_table(io.BytesIO(data), max_bytes=10**7)
    profile = profile_columns(table, max_rows=1000)
    readings = column_readings(
        profile, number_styles=number_styles or {}, date_orders=date_orders or {}
    )
    reader = RowReader(
        kind=kind,
        headers=table.headers,
        mapping=mapping or recognise(table.headers, kind),
        readings=readings,
        currencies=CURRENCIES,
        country_code=lambda text: COUNTRIES.get(text.casefold(), ""),
    )
    return profile, readings, [(n, *reader.read(n, cells)) for n, cells in table.rows()]


def test_the_danish_excel_file_reads_with_decimal_commas_and_day_first_dates():
    data = (FIXTURES / "danish_excel_deals.csv").read_bytes()
    profile, readings, rows = read_all(data, DEALS)
    by_header = dict(zip([c.header for c in profile.columns], readings, strict=True))
    assert by_header["Beløb"].number.value == COMMA
    assert by_header["Forventet lukkedato"].date.value == DAY_FIRST
    assert by_header["Forventet lukkedato"].date.proven
    number, values, problems = rows[0]
    assert number == 2
    assert problems == []
    assert values == {
        "company_name": "Brødrene Æbelø A/S",
        "contact_name": "Søren Ærbø",
        "contact_email": "soren@aebelo.dk",
        "title": "Ny hjemmeside",
        "value": Decimal("12500.50"),
        "currency": "DKK",
        "stage": "Qualified",
        "owner": "Sven Sørensen",
        "expected_close_date": date(2026, 12, 31),
        "created_at": datetime(2026, 9, 1),
    }
    assert rows[1][1]["value"] == Decimal("1250000.00")
    assert rows[2][1]["value"] == Decimal("12500.50")  # "12 500,50 kr"
    assert rows[4][1].get("value") == Decimal("12.50")  # "12,5"
    bad_date = rows[4][2]
    assert [(p.row, p.column, p.severity) for p in bad_date] == [(6, "Forventet lukkedato", ERROR)]
    assert "32-01-2027" in bad_date[0].message


def test_the_user_can_turn_a_columns_reading_round():
    data = b"Title,Amount,Close\nA,12.500,03/04/2026\n"
    _, readings, rows = read_all(data, DEALS, mapping=["title", "value", "expected_close_date"])
    assert (readings[1].number.value, readings[2].date.value) == (DOT, MONTH_FIRST)
    assert rows[0][1]["value"] == Decimal("12.50")
    assert rows[0][1]["expected_close_date"] == date(2026, 3, 4)
    _, readings, rows = read_all(
        data,
        DEALS,
        mapping=["title", "value", "expected_close_date"],
        number_styles={1: COMMA},
        date_orders={2: DAY_FIRST},
    )
    assert rows[0][1]["value"] == Decimal("12500")
    assert rows[0][1]["expected_close_date"] == date(2026, 4, 3)


def test_utf16_contacts_join_first_and_last_names_and_report_problems():
    data = (FIXTURES / "unicode_text_contacts.txt").read_bytes()
    _, _, rows = read_all(data, CONTACTS)
    first = rows[0][1]
    assert first["name"] == "Jürgen Weiß"
    assert first["email"] == "juergen.weiss@mueller-logistik.de"
    assert first["company_name"] == "Müller Logistik GmbH"
    assert "first_name" not in first
    bad_email = rows[4]
    assert [(p.column, p.severity) for p in bad_email[2]] == [("Email", ERROR)]
    no_company = rows[5]
    assert [p.message for p in no_company[2]] == ["A contact needs a company."]


def test_xlsx_companies_with_typed_cells_and_unknown_countries():
    data = (FIXTURES / "hubspot_companies.xlsx").read_bytes()
    _, _, rows = read_all(data, COMPANIES)
    first = rows[0][1]
    assert first == {
        "name": "Fjordline AS",
        "owner": "Sven Sørensen",
        "phone": "+47 55 00 00 00",
        "address": "Bergen",
        "country": "NO",
        "domain": "fjordline.no",
        "website": "https://www.fjordline.no",
    }
    assert rows[1][1]["website"] == "https://mueller-logistik.de"
    assert rows[4][1]["domain"] == "fjordline.no"  # "www." is not part of the domain
    formula = rows[5]
    assert formula[1]["name"] == "=1+2"
    assert [(p.column, p.severity) for p in formula[2]] == [("Country/Region", WARNING)]
    assert "country" not in formula[1]


def test_currency_named_beside_the_amount_is_used_when_there_is_no_currency_column():
    _, _, rows = read_all(b'Title,Amount\nA,"1.234,50 DKK"\nB,99\n', DEALS)
    assert rows[0][1]["currency"] == "DKK"
    assert rows[0][1]["value"] == Decimal("1234.50")
    assert "currency" not in rows[1][1]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("-5", "negative"),
        ("12,5,0", "not a number"),
        ("1e99999", "not a number"),
    ],
)
def test_bad_amounts_are_errors_on_their_cell(cell, message):
    _, _, rows = read_all(f'Title,Amount\nA,"{cell}"\n'.encode(), DEALS)
    (problem,) = rows[0][2]
    assert (problem.row, problem.column, problem.severity) == (2, "Amount", ERROR)
    assert message in problem.message


def test_status_words_and_deleted_rows():
    data = "Title,Status\nA,Won\nB,closed lost\nC,Åben\nD,Deleted\nE,maybe\n".encode()
    _, _, rows = read_all(data, DEALS)
    assert [r[1].get("status") for r in rows] == ["won", "lost", "open", None, None]
    assert "Deleted" in rows[3][2][0].message
    assert rows[4][2][0].severity == ERROR


def test_required_field_missing_and_too_long_text():
    data = ("Title,Stage\n,Lead\n" + "x" * 201 + ",Lead\n").encode()
    _, _, rows = read_all(data, DEALS)
    assert [p.message for p in rows[0][2]] == ["Title is empty."]
    assert "200" in rows[1][2][0].message


def test_our_exports_formula_escape_is_taken_off_again():
    assert unescape("'=SUM(A1)") == "=SUM(A1)"
    assert unescape("'-5 %") == "-5 %"
    assert unescape("'quoted'") == "'quoted'"
    _, _, rows = read_all(b"Title\n'=HYPERLINK(1)\n", DEALS)
    assert rows[0][1]["title"] == "=HYPERLINK(1)"


def test_the_profile_keeps_samples_and_distinct_values():
    data = (FIXTURES / "hubspot_deals.csv").read_bytes()
    profile, _, _ = read_all(data, DEALS)
    stage = next(c for c in profile.columns if c.header == "Deal Stage")
    assert stage.distinct["Appointment Scheduled"] == 2
    assert stage.filled == 7
    assert stage.samples == ["Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled"]
    record_id = next(c for c in profile.columns if c.header == "Record ID")
    assert record_id.too_many_distinct is False  # 7 values: well under the cap


def test_the_profile_survives_being_stored_as_json():
    import json

    from crm.importing.records import FileProfile

    data = (FIXTURES / "danish_excel_deals.csv").read_bytes()
    profile, _, _ = read_all(data, DEALS)
    again = FileProfile.from_dict(json.loads(json.dumps(profile.as_dict())))
    assert again == profile
