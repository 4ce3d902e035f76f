"""Numbers, money, percentages and dates in each language, as CLDR (Babel) writes them, and
typed amounts read back: what a salesperson in Aarhus, Oslo, Stockholm, Hamburg or London
sees and types."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from crm.forms.fields import LocalDecimalField
from crm.web import formats
from crm.web.money import format_compact, format_money, money_formatter

NBSP = "\u00a0"

MONEY = [
    # language, currency, with decimals, whole units
    ("da", "DKK", f"12.500,50{NBSP}kr.", f"12.500{NBSP}kr."),
    ("nb", "NOK", f"12{NBSP}500,50{NBSP}kr", f"12{NBSP}500{NBSP}kr"),
    ("sv", "SEK", f"12{NBSP}500,50{NBSP}kr", f"12{NBSP}500{NBSP}kr"),
    ("de", "EUR", f"12.500,50{NBSP}€", f"12.500{NBSP}€"),
    ("en-gb", "EUR", "€12,500.50", "€12,500"),
    ("en-gb", "DKK", f"DKK{NBSP}12,500.50", f"DKK{NBSP}12,500"),  # CLDR's currency spacing
    ("de", "DKK", f"12.500,50{NBSP}DKK", f"12.500{NBSP}DKK"),
]


@pytest.mark.parametrize(("language", "currency", "exact", "whole"), MONEY)
def test_money_in_each_language_with_the_currencys_own_symbol_and_place(
    language, currency, exact, whole
):
    with translation.override(language):
        assert format_money(Decimal("12500.50"), currency, whole=False) == exact
        assert format_money(Decimal("12500.50"), currency) == whole
        assert format_money(None, currency) == ""


@pytest.mark.parametrize("language", ["da", "nb", "sv", "de", "en-gb"])
@pytest.mark.parametrize("currency", ["DKK", "NOK", "SEK", "EUR", "USD", "CHF", "GBP"])
def test_the_boards_fast_formatter_writes_what_babel_writes(language, currency):
    """The board's formatter fills in a shape read from Babel once; it must agree with
    Babel's own output for every amount, negative and rounded ones included."""
    amounts = ["0", "7", "999", "1000", "12500.5", "12501.5", "-12500.49", "987654321"]
    with translation.override(language):
        money = money_formatter()
        for amount in map(Decimal, amounts):
            assert money(amount, currency) == format_money(amount, currency), amount
        assert money(None, currency) == ""


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("da", f"1,2{NBSP}mio.{NBSP}kr."),
        ("de", f"1,2{NBSP}Mio.{NBSP}€"),
        ("en-gb", "€1.2m"),
    ],
)
def test_compact_totals(language, expected):
    currency = {"da": "DKK", "de": "EUR", "en-gb": "EUR"}[language]
    with translation.override(language):
        assert format_compact(Decimal("1234567"), currency) == expected
        assert format_compact(Decimal("980"), currency) == format_money(Decimal("980"), currency)


NUMBERS = [
    ("da", "12.500,5", f"25,3{NBSP}%", "31.12.2026", "31. dec. 2026", "3. dec."),
    ("nb", f"12{NBSP}500,5", f"25,3{NBSP}%", "31.12.2026", "31. des. 2026", "3. des."),
    ("sv", f"12{NBSP}500,5", f"25,3{NBSP}%", "2026-12-31", "31 dec. 2026", "3 dec."),
    ("de", "12.500,5", f"25,3{NBSP}%", "31.12.2026", "31.12.2026", "3. Dez."),
    ("en-gb", "12,500.5", "25.3%", "31/12/2026", "31 Dec 2026", "3 Dec"),
]


@pytest.mark.parametrize(("language", "number", "percent", "short", "medium", "day"), NUMBERS)
def test_numbers_percentages_and_dates(language, number, percent, short, medium, day):
    with translation.override(language):
        assert formats.format_number(Decimal("12500.5")) == number
        assert formats.format_percent(Decimal("0.253"), 1) == percent
        assert formats.format_date(date(2026, 12, 31), "short") == short
        assert formats.format_date(date(2026, 12, 31)) == medium
        assert formats.day_month(date(2026, 12, 3)) == day
        assert formats.day_month_formatter()(date(2026, 12, 3)) == day


def test_an_exchange_rate_keeps_all_its_decimals():
    with translation.override("da"):
        assert formats.format_number(Decimal("0.1341")) == "0,1341"


def test_a_moment_is_shown_in_the_organisations_time_zone():
    """23:30 UTC on 31 December is already 1 January in Copenhagen."""
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    with timezone.override("Europe/Copenhagen"), translation.override("da"):
        assert formats.format_date(moment, "short") == "01.01.2027"
        assert formats.format_datetime(moment) == "1. jan. 2027 00.30"
    with timezone.override("Europe/Copenhagen"), translation.override("en-gb"):
        assert formats.format_datetime(moment) == "1 Jan 2027, 00:30"
        assert formats.format_time(moment) == "00:30"


@pytest.mark.parametrize("language", ["da", "nb", "sv", "de", "en-gb"])
def test_weeks_start_on_monday_and_are_numbered_as_iso_8601_says(language):
    locale = formats.babel_locale(language)
    assert locale.first_week_day == 0  # Monday
    assert locale.min_week_days == 4  # week 1 holds the year's first Thursday
    assert formats.week_number(date(2027, 1, 1)) == 53  # a Friday: still 2026's week 53
    assert formats.week_number(date(2026, 12, 28)) == 53


TYPED = [
    ("da", ["12.500,50", "12500,50", "12500.50"], "12500.50"),
    ("de", ["12.500,50", "12500,50"], "12500.50"),
    ("sv", ["12 500,50", f"12{NBSP}500,50", "12\u202f500,50", "12500,50"], "12500.50"),
    ("nb", ["12 500,50", "12\u202f500,50", "12500,50"], "12500.50"),
    ("en-gb", ["12,500.50", "12500.50"], "12500.50"),
]


@pytest.mark.parametrize(("language", "texts", "value"), TYPED)
def test_typed_numbers_are_read_in_the_pages_language(language, texts, value):
    with translation.override(language):
        for text in texts:
            assert formats.parse_number(text) == Decimal(value), text


@pytest.mark.parametrize(
    ("language", "text"),
    [("da", "12,500.50"), ("da", "1.2.3"), ("sv", "12.500,50"), ("en-gb", "12,50"), ("de", "abc")],
)
def test_a_number_in_another_languages_format_is_refused(language, text):
    with translation.override(language), pytest.raises(formats.NumberParseError):
        formats.parse_number(text)


@pytest.mark.parametrize("language", ["da", "nb", "sv", "de", "en-gb"])
def test_round_trip_of_what_is_shown(language):
    """What a page shows (a number, a date) is read back as the same value."""
    with translation.override(language):
        for amount in ("0.5", "12500.50", "1234567.89", "-42.10"):
            shown = formats.format_number(Decimal(amount), 2)
            assert formats.parse_number(shown) == Decimal(amount)
        day = date(2026, 12, 31)
        assert formats.parse_date(formats.format_date(day, "short")) == day
        assert formats.parse_date("2026-12-31") == day


def test_an_amount_field_reads_and_shows_the_local_format():
    field = LocalDecimalField(max_digits=14, decimal_places=2, min_value=0)
    with translation.override("da"):
        assert field.clean("12.500,50") == Decimal("12500.50")
        assert field.widget.format_value(Decimal("12500.50")) == "12.500,50"
        assert field.widget.format_value(Decimal("12500.00")) == "12.500"
        assert 'inputmode="decimal"' in field.widget.render("value", Decimal("3"))
        with pytest.raises(Exception) as refused:
            field.clean("12,500.50")
        assert "12.500,50" in str(refused.value)  # the example is in the page's format
    with translation.override("sv"):
        assert field.clean("12 500,50") == Decimal("12500.50")
        assert field.widget.format_value(Decimal("12500.5")) == f"12{NBSP}500,50"
