"""XLSX beside CSV, in a real browser on the demo data: a manager downloads the forecast and
the loss analysis as XLSX, and the loss analysis groups its stages under their pipelines.
Screenshots (laptop and phone) go to /work/shots/analytics/ when that folder exists."""

from __future__ import annotations

from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/shots/analytics")
PASSWORD = "correct-horse-battery"
SIZES = {"laptop": (1440, 900), "phone": (390, 844)}


@pytest.fixture
def demo(db):
    call_command("seed_demo", password=PASSWORD, stdout=StringIO())


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
        page.screenshot(path=SHOTS / f"{name}-top.png")  # what the first screen shows


def _downloaded_sheet(page, link_name: str):
    from openpyxl import load_workbook

    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    return load_workbook(BytesIO(Path(download.path()).read_bytes())).active


def test_manager_downloads_xlsx_and_sees_losses_by_pipeline(page, demo):
    log_in(page, "maria", PASSWORD)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(reverse("forecast"))
        expect(page.get_by_role("link", name="Export XLSX")).to_be_visible()
        expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
        _shot(page, f"forecast-{size}")
        page.goto(reverse("analytics-losses"))
        expect(page.locator("#loss-table th[scope=colgroup]").first).to_be_visible()
        _shot(page, f"losses-{size}")

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(reverse("forecast"))
    sheet = _downloaded_sheet(page, "Export XLSX")
    assert sheet["A1"].font.bold
    assert sheet.cell(row=sheet.max_row, column=1).value == "Total"
    assert sheet["B2"].data_type == "n"

    page.goto(reverse("analytics-losses"))
    groups = page.locator("#loss-table th[scope=colgroup]").all_inner_texts()
    assert len(groups) >= 2 and len(set(groups)) == len(groups)  # each pipeline once
    sheet = _downloaded_sheet(page, "Export XLSX")
    assert [c.value for c in sheet[1]][:3] == ["Pipeline", "Stage lost from", "Reason"]
    pipelines = [row[0].value for row in sheet.iter_rows(min_row=2)]
    runs = [p for i, p in enumerate(pipelines) if i == 0 or pipelines[i - 1] != p]
    assert len(runs) == len(set(runs))  # each pipeline's rows together
