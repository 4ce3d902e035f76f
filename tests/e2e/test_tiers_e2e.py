"""Customer tiers in a real browser: an admin previews and saves thresholds; a salesperson
filters the board by tier; a drag with a tier filter on keeps the filter. Screenshots of the
settings page, the board and the company list go to /work/wt/shots when that folder exists."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import Organisation
from crm.services.tiers import tiers_recompute
from tests.e2e.conftest import log_in
from tests.factories import CompanyFactory, DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")


def shoot(page, name: str) -> None:
    if not SHOTS.is_dir():
        return
    for label, size in (("laptop", (1366, 850)), ("phone", (390, 844))):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.screenshot(path=str(SHOTS / f"tiers-{name}-{label}.png"), full_page=label == "phone")
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.fixture
def tiered_board(team_a, stages_a, alice):
    values = {"Nordic Steel": 400_000, "Baltic Freight": 150_000, "Fjord Foods": 8_000}
    for name, value in values.items():
        company = CompanyFactory(team=team_a, name=name, owner=alice)
        DealFactory(
            stage=stages_a[3], company=company, owner=alice, title=f"{name} renewal", value=value
        )
    Organisation.objects.get_or_create(pk=1)
    tiers_recompute()


def test_admin_previews_and_saves_thresholds(page, admin, tiered_board):
    log_in(page, "admin")
    page.goto(reverse("settings-tiers"))
    preview = page.locator("#tier-preview")
    expect(preview.locator(".tier-spread-item strong")).to_have_text(["2", "0", "1"])
    shoot(page, "settings")

    with page.expect_request(lambda r: "a_threshold=500000" in r.url) as previewed:
        page.fill("input[name=a_threshold]", "500000")
    assert "csrfmiddlewaretoken" not in previewed.value.url  # the token stays out of URLs
    expect(preview.locator(".tier-spread-item strong")).to_have_text(["0", "2", "1"])
    page.get_by_role("button", name="Save and recompute").click()
    expect(page.locator(".toast, .alert, [role=status]").first).to_contain_text("Thresholds saved")
    organisation = Organisation.objects.get()
    assert organisation.tier_a_threshold == Decimal("500000")


def test_salesperson_filters_the_board_by_tier(page, alice, pipeline_a, tiered_board):
    log_in(page, "alice")
    page.goto(reverse("board", args=[pipeline_a.pk]))
    cards = page.locator(".card")
    expect(cards).to_have_count(3)
    expect(page.locator(".card .tier-A")).to_have_count(2)
    shoot(page, "board")

    page.locator(".tier-toggle", has_text="C").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Fjord Foods")
    assert "tier=C" in page.url
    page.reload()
    expect(cards).to_have_count(1)

    page.goto(reverse("company-list"))
    shoot(page, "companies")
    page.locator(".tier-toggle", has_text="A").click()
    expect(page.locator("#results tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Nordic Steel").click()
    expect(page.locator("h1")).to_contain_text("Nordic Steel")
    shoot(page, "company")
