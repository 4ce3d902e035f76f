"""Numbers and dates as people write them, read once per column."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from crm.importing.values import (
    COMMA,
    DAY_FIRST,
    DOT,
    MONTH_FIRST,
    DateEvidence,
    NumberEvidence,
    decide_date_order,
    decide_number_style,
    number_evidence,
    parse_date,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "style", "value", "currency"),
    [
        ("12.500,50", COMMA, "12500.50", None),
        ("12,500.50", DOT, "12500.50", None),
        ("12 500,50 kr", COMMA, "12500.50", None),
        ("12\u00a0500,50\u00a0kr.", COMMA, "12500.50", None),
        ("1.250.000,00", COMMA, "1250000.00", None),
        ("1,250,000", DOT, "1250000", None),
        ("€1,234.50", DOT, "1234.50", "EUR"),
        ("1.234,50 DKK", COMMA, "1234.50", "DKK"),
        ("USD 99", DOT, "99", "USD"),
        ("12.500,-", COMMA, "12500", None),
        ("1'234.50", DOT, "1234.50", None),
        ("12500", DOT, "12500", None),
        ("12500", COMMA, "12500", None),
        ("12,5", COMMA, "12.5", None),
        ("0.5", DOT, "0.5", None),
        ("-100", DOT, "-100", None),
        ("(1,234.50)", DOT, "-1234.50", None),
        ("12.500", COMMA, "12500", None),  # the ambiguous case, read as the column decided
        ("12.500", DOT, "12.500", None),
    ],
)
def test_numbers_as_people_write_them(text, style, value, currency):
    amount = parse_number(text, style)
    assert amount.value == Decimal(value)
    assert amount.currency == currency


@pytest.mark.parametrize(
    ("text", "style"),
    [("12,5", DOT), ("1.23.4", COMMA), ("abc", DOT), ("", DOT), ("1,2,3", DOT), ("12..5", DOT)],
)
def test_a_number_not_written_in_the_columns_style_is_refused(text, style):
    with pytest.raises(ValueError):
        parse_number(text, style)


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("12.500,50", COMMA),
        ("12,500.50", DOT),
        ("12,5", COMMA),
        ("12.50", DOT),
        ("1.234.567", COMMA),
        ("1,234,567", DOT),
        ("12.500", None),
        ("1,250", None),
        ("12500", None),
        ("12 500,50 kr", COMMA),
    ],
)
def test_what_a_value_shows_about_its_column(text, evidence):
    assert number_evidence(text) == evidence


def test_a_column_decides_its_number_style_once():
    evidence = NumberEvidence()
    for text in ["12.500", "950", "12,5", "1.250.000,00"]:
        evidence.add(text)
    decision = decide_number_style(evidence, default=DOT)
    assert (decision.value, decision.proven) == (COMMA, True)


def test_a_column_that_proves_nothing_takes_the_files_default():
    evidence = NumberEvidence()
    for text in ["12.500", "1.250"]:
        evidence.add(text)
    assert decide_number_style(evidence, default=COMMA).value == COMMA
    assert not decide_number_style(evidence, default=COMMA).proven


def test_a_column_with_both_styles_takes_the_majority_and_says_it_guessed():
    evidence = NumberEvidence(dot=5, comma=1)
    decision = decide_number_style(evidence, default=COMMA)
    assert (decision.value, decision.proven) == (DOT, False)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2026-12-31", DAY_FIRST, date(2026, 12, 31)),
        ("2026-12-31", MONTH_FIRST, date(2026, 12, 31)),  # ISO is never ambiguous
        ("2026-12-31 14:30", DAY_FIRST, datetime(2026, 12, 31, 14, 30)),
        ("2026-12-31T14:30:05", DAY_FIRST, datetime(2026, 12, 31, 14, 30, 5)),
        ("2026-12-31T14:30:00Z", DAY_FIRST, datetime(2026, 12, 31, 14, 30, tzinfo=UTC)),
        (
            "2026-12-31T14:30:00+01:00",
            DAY_FIRST,
            datetime(2026, 12, 31, 14, 30, tzinfo=timezone(timedelta(hours=1))),
        ),
        ("2026-12-31 10:22:31.123", DAY_FIRST, datetime(2026, 12, 31, 10, 22, 31)),
        ("31-12-2026", DAY_FIRST, date(2026, 12, 31)),
        ("31.12.2026", DAY_FIRST, date(2026, 12, 31)),
        ("31.12.26", DAY_FIRST, date(2026, 12, 31)),
        ("12/31/2026", MONTH_FIRST, date(2026, 12, 31)),
        ("03/04/2026", MONTH_FIRST, date(2026, 3, 4)),
        ("03/04/2026", DAY_FIRST, date(2026, 4, 3)),
        ("12/31/2026 3:45 PM", MONTH_FIRST, datetime(2026, 12, 31, 15, 45)),
        ("1.2.2027 08:00", DAY_FIRST, date(2027, 2, 1)),
    ],
)
def test_dates_as_people_write_them(text, order, expected):
    value = parse_date(text, order)
    if isinstance(expected, datetime):
        assert value == expected
    else:
        assert (value.date() if isinstance(value, datetime) else value) == expected


@pytest.mark.parametrize("text", ["32-01-2027", "31.02.2027", "2026-13-01", "tomorrow", "12/31"])
def test_what_is_not_a_date_is_refused(text):
    with pytest.raises(ValueError):
        parse_date(text, DAY_FIRST)


def test_one_telling_value_decides_the_date_order_of_its_column():
    evidence = DateEvidence()
    for text in ["03/04/2026", "05/06/2026", "12/31/2026"]:
        evidence.add(text)
    decision = decide_date_order(evidence)
    assert (decision.value, decision.proven) == (MONTH_FIRST, True)
    evidence = DateEvidence()
    for text in ["03.04.2026", "13.04.2026"]:
        evidence.add(text)
    assert decide_date_order(evidence).value == DAY_FIRST


def test_undecided_dates_with_slashes_are_us_style_and_with_dots_day_first():
    slashes = DateEvidence()
    slashes.add("03/04/2026")
    assert decide_date_order(slashes) == decide_date_order(slashes)
    assert decide_date_order(slashes).value == MONTH_FIRST
    assert not decide_date_order(slashes).proven
    dots = DateEvidence()
    dots.add("03.04.2026")
    dots.add("03-04-2026")
    assert decide_date_order(dots).value == DAY_FIRST
