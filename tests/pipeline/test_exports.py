"""XLSX beside CSV for the forecast and analytics tables: the same rows, opened again with
openpyxl; numbers as numbers (money formatted), dates as dates, a bold header, formula-looking
text neutralised, only what the user may see, bad parameters answered with 400."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from crm.web.exports import (
    MONEY_FORMAT,
    XLSX_CONTENT_TYPE,
    Days,
    Percent,
    csv_response,
    xlsx_workbook,
)
from pipeline.models import LostReason, StageChange
from tests.factories import DealFactory

ANALYTICS = [
    "analytics-funnel",
    "analytics-time-in-stage",
    "analytics-reps",
    "analytics-losses",
    "analytics-velocity",
]


def sheet_of(content: bytes):
    return load_workbook(io.BytesIO(content)).active


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def xlsx_response_sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Disposition"].endswith('.xlsx"')
    return sheet_of(response.content)


def as_csv_text(cell) -> str:
    """What the CSV writer puts for the value this cell holds (to compare the two files)."""
    value = cell.value
    if value is None:
        return ""
    if cell.number_format == "0%":
        return f"{round(value * 100)}"
    if cell.number_format == "0.0":
        return f"{value:.1f}"
    if cell.number_format == MONEY_FORMAT:
        return f"{Decimal(str(value)):.2f}"
    return str(value)


# --- the shared writer ---------------------------------------------------------------------


ROWS = [
    ["Name", "Value (EUR)", "Deals", "Win rate %", "Days", "Day"],
    [
        "=HYPERLINK(1)",
        Decimal("1234.5"),
        3,
        Percent(Decimal("0.4545")),
        Days(2.26),
        date(2026, 5, 4),
    ],
    ["ok\x07bell", None, 0, Percent(None), Days(None), None],
]


def test_workbook_holds_typed_cells_and_a_bold_header():
    sheet = sheet_of(xlsx_workbook(ROWS))
    header = list(sheet[1])
    assert [c.value for c in header] == ROWS[0]
    assert all(c.font.bold for c in header)
    assert sheet.freeze_panes == "A2"
    name, value, deals, rate, days, day = sheet[2]
    assert name.value == "'=HYPERLINK(1)" and name.data_type == "s"  # text, not a formula
    assert value.value == 1234.5 and value.data_type == "n"
    assert value.number_format == MONEY_FORMAT
    assert deals.value == 3 and deals.data_type == "n"
    assert rate.value == pytest.approx(0.4545) and rate.number_format == "0%"
    assert days.value == pytest.approx(2.3) and days.number_format == "0.0"
    assert isinstance(day.value, datetime) and day.value.date() == date(2026, 5, 4)
    assert day.is_date
    assert not any(c.font.bold for c in sheet[2])
    blank = sheet[3]
    assert blank[0].value == "okbell"  # a control character an XLSX file cannot hold
    assert [c.value for c in blank[1:]] == [None, 0, None, None, None]


def test_csv_writer_puts_the_same_rows_as_text():
    rows = csv_rows(csv_response(name="x", rows=ROWS))
    assert rows[1] == ["'=HYPERLINK(1)", "1234.50", "3", "45", "2.3", "2026-05-04"]
    assert rows[2] == ["ok\x07bell", "", "0", "", "", ""]


def test_aware_datetimes_are_written_as_local_wall_time():
    moment = timezone.make_aware(datetime(2026, 3, 1, 23, 30), timezone.get_fixed_timezone(0))
    sheet = sheet_of(xlsx_workbook([["At"], [moment]]))
    assert sheet["A2"].value == timezone.localtime(moment).replace(tzinfo=None)


# --- forecast ------------------------------------------------------------------------------


@pytest.fixture
def books(alice, alex, carol, stages_a, stages_b):
    today = timezone.localdate()
    DealFactory(stage=stages_a[2], owner=alice, value=1000, expected_close_date=today)
    DealFactory(
        stage=stages_a[1], owner=alex, value=10_000, currency="DKK", expected_close_date=today
    )
    DealFactory(
        stage=stages_b[0], owner=carol, value=3000, title="Carol's", expected_close_date=today
    )


def test_forecast_xlsx_holds_the_csv_rows_as_numbers(client, bob, alice, books):
    client.force_login(bob)
    csv_lines = csv_rows(client.get(reverse("forecast-export"), {"range": "2"}))
    sheet = xlsx_response_sheet(client.get(reverse("forecast-export-xlsx"), {"range": "2"}))
    assert [[as_csv_text(c) for c in row] for row in sheet.iter_rows()] == csv_lines
    assert all(c.font.bold for c in sheet[1])
    alice_row = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == str(alice))
    weighted = alice_row[1]
    assert weighted.data_type == "n" and weighted.value == 500
    assert weighted.number_format == MONEY_FORMAT
    assert sheet.cell(row=sheet.max_row, column=1).value == "Total"


def test_forecast_page_links_both_exports(client, bob, books):
    client.force_login(bob)
    page = client.get(reverse("forecast"), {"period": "quarter"}).content.decode()
    assert f'href="{reverse("forecast-export")}?period=quarter' in page
    assert f'href="{reverse("forecast-export-xlsx")}?period=quarter' in page
    assert "Export XLSX" in page


@pytest.mark.parametrize("persona", ["carol", "alice"])
def test_forecast_xlsx_has_only_what_the_user_may_see(client, request, books, persona):
    client.force_login(request.getfixturevalue(persona))
    sheet = xlsx_response_sheet(client.get(reverse("forecast-export-xlsx")))
    labels = [row[0].value for row in sheet.iter_rows(min_row=2)]
    if persona == "carol":
        assert not any("Alice" in label or "Alex" in label for label in labels)
    else:
        assert not any("Carol" in label for label in labels)


@pytest.mark.parametrize(
    "params",
    [{"period": "decade"}, {"range": "999"}, {"group": "owner_id"}, {"pipeline": "999999"}],
)
def test_forecast_xlsx_bad_params_answer_400(client, bob, books, params):
    client.force_login(bob)
    response = client.get(reverse("forecast-export-xlsx"), params)
    assert response.status_code == 400
    assert response["Content-Type"] != XLSX_CONTENT_TYPE


def test_forecast_xlsx_of_another_teams_pipeline_answers_400(client, carol, books, stages_a):
    client.force_login(carol)
    response = client.get(reverse("forecast-export-xlsx"), {"pipeline": stages_a[0].pipeline_id})
    assert response.status_code == 400


def test_forecast_xlsx_needs_a_login(client, db):
    response = client.get(reverse("forecast-export-xlsx"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_forecast_xlsx_is_formula_safe(client, bob, team_a, stages_a):
    stages_a[2].pipeline.name = "+cmd"
    stages_a[2].pipeline.save()
    DealFactory(stage=stages_a[2], value=100, expected_close_date=timezone.localdate())
    client.force_login(bob)
    response = client.get(reverse("forecast-export-xlsx"), {"group": "pipeline"})
    labels = [row[0] for row in xlsx_response_sheet(response).iter_rows(min_row=2)]
    assert "'+cmd" in [c.value for c in labels]
    assert all(c.data_type == "s" for c in labels)


# --- analytics -----------------------------------------------------------------------------


@pytest.fixture
def history(alice, alex, stages_a):
    now = timezone.now()
    reason = LostReason.objects.create(name="@SUM(1)")
    for owner, status, later in (
        (alice, "won", stages_a[3]),
        (alice, "open", stages_a[1]),
        (alex, "lost", stages_a[2]),
        (alex, "open", None),
    ):
        deal = DealFactory(
            stage=later or stages_a[0],
            owner=owner,
            status=status,
            value=Decimal("1234.50"),
            created_at=now - timedelta(days=20),
            closed_at=now - timedelta(days=1) if status != "open" else None,
            lost_reason=reason if status == "lost" else None,
            lost_from_stage=later if status == "lost" else None,
        )
        StageChange.objects.create(deal=deal, to_stage=stages_a[0], at=now - timedelta(days=20))
        if later:
            StageChange.objects.create(
                deal=deal, from_stage=stages_a[0], to_stage=later, at=now - timedelta(days=10)
            )


@pytest.mark.parametrize("name", ANALYTICS)
def test_analytics_xlsx_holds_the_csv_rows(client, bob, history, name):
    client.force_login(bob)
    csv_lines = csv_rows(client.get(reverse(name), {"export": "csv"}))
    sheet = xlsx_response_sheet(client.get(reverse(name), {"export": "xlsx"}))
    assert [[as_csv_text(c) for c in row] for row in sheet.iter_rows()] == csv_lines
    assert all(c.font.bold for c in sheet[1])
    assert len(csv_lines) > 1  # there are figures to compare
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
                assert cell.data_type == "s"


def test_analytics_xlsx_money_and_counts_are_numbers(client, bob, history):
    client.force_login(bob)
    sheet = xlsx_response_sheet(client.get(reverse("analytics-losses"), {"export": "xlsx"}))
    header = [c.value for c in sheet[1]]
    assert header[4] == "Lost value (EUR)"
    pipeline, stage, reason, count, value, days = sheet[2]
    assert reason.value == "'@SUM(1)"
    assert count.value == 1 and count.data_type == "n"
    assert value.value == pytest.approx(1234.5) and value.number_format == MONEY_FORMAT
    assert days.value == pytest.approx(19.0) and days.data_type == "n"
    funnel = xlsx_response_sheet(client.get(reverse("analytics-funnel"), {"export": "xlsx"}))
    first = list(funnel[2])
    assert first[1].value == 4 and first[6].number_format == "0%"


@pytest.mark.parametrize("name", ANALYTICS)
def test_analytics_pages_link_both_exports(client, bob, history, name):
    client.force_login(bob)
    page = client.get(reverse(name), {"tier": "A"}).content.decode()
    assert "export=csv" in page and "export=xlsx" in page and "Export XLSX" in page
    xlsx_link = next(part for part in page.split('href="')[1:] if "export=xlsx" in part)
    assert "tier=A" in xlsx_link.split('"')[0]


@pytest.mark.parametrize("name", ANALYTICS)
def test_analytics_xlsx_of_an_outsider_has_none_of_team_a(
    client, carol, history, stages_a, stages_b, name
):
    client.force_login(carol)
    sheet = xlsx_response_sheet(client.get(reverse(name), {"export": "xlsx"}))
    text = " ".join(str(c.value) for row in sheet.iter_rows() for c in row)
    assert "Alice" not in text and "Alex" not in text and "SUM" not in text
    own = client.get(reverse(name), {"export": "xlsx", "pipeline": stages_b[0].pipeline_id})
    assert own.status_code == 200
    foreign = client.get(reverse(name), {"export": "xlsx", "pipeline": stages_a[0].pipeline_id})
    assert foreign.status_code == 400


@pytest.mark.parametrize("name", ANALYTICS)
def test_analytics_xlsx_of_a_salesperson_has_only_own_rows(client, alice, alex, history, name):
    client.force_login(alice)
    sheet = xlsx_response_sheet(client.get(reverse(name), {"export": "xlsx"}))
    text = " ".join(str(c.value) for row in sheet.iter_rows() for c in row)
    assert "Alex" not in text
    assert client.get(reverse(name), {"export": "xlsx", "rep": alex.pk}).status_code == 400


@pytest.mark.parametrize("name", ANALYTICS)
@pytest.mark.parametrize(
    "params",
    [
        {"export": "xlsx", "from": "2026-13-45"},
        {"export": "xlsx", "basis": "everything"},
        {"export": "xls"},
        {"export": "xlsx", "sort": "-pk"},
    ],
)
def test_analytics_xlsx_bad_params_answer_400(client, bob, history, name, params):
    client.force_login(bob)
    response = client.get(reverse(name), params)
    assert response.status_code == 400
    assert response["Content-Type"] != XLSX_CONTENT_TYPE
