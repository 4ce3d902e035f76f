"""The analytics pages in a real browser, on the demo data: a manager opens each page, changes
a filter and drills down to the deals behind a figure. Screenshots go to /work/wt/shots/."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
PASSWORD = "correct-horse-battery"


@pytest.fixture
def demo(db):
    call_command("seed_demo", password=PASSWORD, stdout=StringIO())


def _shot(page, name: str) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=SHOTS / f"analytics-{name}.png", full_page=True)


def test_manager_walks_the_analytics_pages(page, demo):
    page.set_viewport_size({"width": 1366, "height": 850})
    log_in(page, "maria", PASSWORD)
    page.get_by_role("link", name="Analytics", exact=True).click()
    page.wait_for_url("**/analytics/")
    expect(page.locator("h1")).to_contain_text("Funnel")
    expect(page.locator(".funnel-chart rect").first).to_be_visible()
    expect(page.locator("#funnel-table .badge-drop")).to_have_count(1)
    _shot(page, "funnel")

    # a filter change keeps the others in the query string
    page.select_option("select[name=basis]", "active")
    page.wait_for_url("**basis=active**")
    expect(page.locator("select[name=basis]")).to_have_value("active")

    page.locator(".analytics-tabs a", has_text="Time in stage").click()
    page.wait_for_url("**/analytics/time-in-stage/**basis=active**")
    expect(page.locator("#time-table svg.histogram").first).to_be_visible()
    _shot(page, "time-in-stage")

    page.locator(".analytics-tabs a", has_text="Reps by stage").click()
    page.wait_for_url("**/analytics/reps/**")
    expect(page.locator("#reps-table tbody tr").first).to_be_visible()
    _shot(page, "reps")
    page.locator("#reps-table td.rep-cell a").first.click()
    page.wait_for_url("**/analytics/deals/**")
    expect(page.locator("#drill-table tbody tr").first).to_be_visible()
    _shot(page, "drill-down")

    page.goto(reverse("analytics-losses"))
    expect(page.locator("#loss-table tbody tr").first).to_be_visible()
    page.select_option("select[name=area]", label="Cold chain")
    page.wait_for_url("**area=**")
    expect(page.locator("#loss-table")).to_be_visible()
    _shot(page, "losses")

    page.goto(reverse("analytics-velocity"))
    expect(page.locator("#velocity-table tbody tr").first).to_be_visible()
    _shot(page, "velocity")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("analytics-funnel"))
    expect(page.locator("#funnel-table")).to_be_visible()
    _shot(page, "funnel-phone")
    page.goto(reverse("analytics-reps"))
    _shot(page, "reps-phone")


def test_bad_filter_shows_a_message(page, demo):
    log_in(page, "maria", PASSWORD)
    response = page.goto(reverse("analytics-funnel") + "?from=2026-99-01")
    assert response.status == 400
    expect(page.locator("body")).to_contain_text("date")


def test_a_long_history_being_prepared_is_said_so(page, demo, monkeypatch):
    """The first rebuild of a long history runs in the background: the page says so."""
    from pipeline import tasks
    from pipeline.models import AnalyticsRefresh, StageVisit
    from pipeline.services import analytics

    monkeypatch.setattr(analytics, "INLINE_REBUILD_LIMIT", 0)
    queued = []
    monkeypatch.setattr(tasks.analytics_refresh, "apply_async", lambda **kw: queued.append(kw))
    StageVisit.objects.all().delete()
    AnalyticsRefresh.objects.all().delete()
    page.set_viewport_size({"width": 1366, "height": 850})
    log_in(page, "maria", PASSWORD)
    page.goto(reverse("analytics-funnel"))
    expect(page.locator(".alert-info")).to_contain_text("being prepared")
    expect(page.locator(".subtitle")).to_contain_text("being prepared")
    _shot(page, "being-prepared")
    assert queued
