"""The organisation settings page in a real browser: an htmx save updates the page, the top
bar and the toast in place; bad input shows the error without losing the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.models import Organisation
from tests.e2e.conftest import log_in

SHOTS = Path("/work/wt/shots")
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_saves_the_organisation_in_place(page, admin):
    log_in(page, admin.username)
    page.goto("/settings/organisation/")
    page.fill("input[name=name]", "Fjord Systems")
    page.fill("input[name=time_zone]", "Europe/Oslo")
    page.select_option("select[name=week_start]", "6")
    page.click("#organisation-settings form >> text=Save")
    expect(page.locator(".toast-success")).to_contain_text("Organisation settings saved.")
    expect(page.locator(".brand-name")).to_have_text("Fjord Systems")
    expect(page).to_have_title("Organisation · Fjord Systems")
    row = Organisation.objects.get(pk=1)
    assert (row.name, row.time_zone, row.week_start) == ("Fjord Systems", "Europe/Oslo", 6)

    page.fill("input[name=time_zone]", "Mars/Olympus")
    page.click("#organisation-settings form >> text=Save")
    expect(page.locator(".field.has-error")).to_contain_text("Unknown time zone")
    assert Organisation.objects.get(pk=1).time_zone == "Europe/Oslo"

    page.select_option("select[name=currency]", "DKK")
    page.fill("input[name=rate]", "0.1342")
    page.click("text=Add rate")
    expect(page.locator(".toast-success").first).to_contain_text("Exchange rate saved.")
    expect(page.locator("#exchange-rates table").first).to_contain_text("0.1342")

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.reload()
    page.set_viewport_size({"width": 1366, "height": 850})
    page.screenshot(path=str(SHOTS / "org-settings-laptop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "org-settings-phone.png"), full_page=True)
