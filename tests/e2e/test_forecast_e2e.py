"""The forecast page in a real browser: a manager reads the chart, switches to weeks, sets a
target in place and drills down into a cell."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from pipeline.models import SalesTarget
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pipeline_deals(alice, alex, bob, stages_a, carol, stages_b):
    today = timezone.localdate()
    return [
        DealFactory(
            stage=stages_a[2], owner=alice, title="Forklift fleet", expected_close_date=today
        ),
        DealFactory(
            stage=stages_a[1],
            owner=alex,
            title="Racking upgrade",
            value=Decimal("4000"),
            expected_close_date=today + timedelta(days=9),
        ),
        DealFactory(
            stage=stages_a[3],
            owner=alice,
            title="Cold storage",
            value=Decimal("2500"),
            expected_close_date=today + timedelta(days=40),
        ),
        DealFactory(
            stage=stages_b[0], owner=carol, title="South secret", expected_close_date=today
        ),
    ]


def test_manager_reads_the_forecast_and_drills_down(page, bob, alice, pipeline_deals, output_dir):
    log_in(page, "bob")
    page.goto(reverse("forecast"))
    expect(page.locator("h1")).to_have_text("Forecast")
    bars = page.locator("#forecast-chart svg.chart rect")
    expect(bars.first).to_be_visible()
    assert bars.count() >= 2
    expect(page.locator("#forecast-calibration table")).to_be_visible()  # loaded by htmx
    assert "South secret" not in page.content()
    page.screenshot(path=output_dir / "forecast-month.png", full_page=True)

    page.get_by_role("link", name="Week", exact=True).click()
    page.wait_for_url("**/forecast/?period=week")
    expect(page.locator(".forecast-table thead th.fc-period")).to_have_count(13)

    # a target set in place, without leaving the page
    first_target = page.locator(f"[id^='target-{alice.pk}-'] input[name=amount]").first
    with page.expect_response(lambda r: "/forecast/targets/" in r.url) as saved:
        first_target.fill("1000")
        first_target.press("Enter")
    assert saved.value.status == 200
    expect(page.locator(f"[id^='target-{alice.pk}-'] .coverage").first).to_be_visible()
    assert SalesTarget.objects.get(user=alice).amount == Decimal("1000")
    page.screenshot(path=output_dir / "forecast-weeks.png", full_page=True)

    page.locator(f"#forecast-row-{alice.pk} a.fc-weighted").first.click()
    page.wait_for_url("**/forecast/deals/**")
    expect(page.get_by_role("link", name="Forklift fleet")).to_be_visible()
    page.screenshot(path=output_dir / "forecast-drill-down.png", full_page=True)
    page.get_by_role("link", name="Forklift fleet").click()
    page.wait_for_url(f"**{pipeline_deals[0].get_absolute_url()}")
