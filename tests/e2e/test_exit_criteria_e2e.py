"""Exit criteria in a real browser: a salesperson's drag forward out of a stage with a required
criterion opens the dialog, is refused until the event is ticked, then goes through; Cancel
puts the card back. Screenshots go to /work/wt/shots/ (laptop and phone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from pipeline.models import Deal, DealCriterionCheck, ExitCriterion, StageChange
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


def shot(page, name: str, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"exit-criteria-{name}.png", **kwargs)


@pytest.fixture
def board(alice, stages_a, pipeline_a):
    lead, qualified = stages_a[0], stages_a[1]
    criteria = {
        "need": ExitCriterion.objects.create(
            stage=lead, text="Customer confirmed the need", is_required=True, position=0
        ),
        "budget": ExitCriterion.objects.create(
            stage=lead, text="Budget range discussed", is_required=False, position=1
        ),
    }
    deals = {
        "first": DealFactory(stage=lead, owner=alice, title="Forklift fleet"),
        "second": DealFactory(stage=lead, owner=alice, title="Racking upgrade"),
        "qualified": DealFactory(stage=qualified, owner=alice, title="Cold storage"),
    }
    return {"criteria": criteria, "deals": deals}


def column_titles(page, stage):
    return page.locator(f"#stage-{stage.pk}-cards .card .card-title").all_inner_texts()


def test_required_criterion_stops_the_drag_until_ticked(page, alice, stages_a, board):
    deals, criteria = board["deals"], board["criteria"]
    page.set_viewport_size(LAPTOP)
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    with page.expect_response(lambda r: "/move-check/" in r.url) as check:
        page.locator(f"#deal-{deals['first'].pk}").drag_to(
            page.locator(f"#deal-{deals['qualified'].pk}")
        )
    assert check.value.status == 200
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Before moving to Qualified")
    expect(dialog).to_contain_text("Customer confirmed the need")
    expect(dialog.locator(".badge-required")).to_have_count(1)
    shot(page, "dialog")

    # Move without the required tick: refused, the dialog says why, nothing moved.
    with page.expect_response(lambda r: r.url.endswith("/move/")) as refused:
        dialog.locator("button[type=submit]").click()
    assert refused.value.status == 422
    expect(dialog.locator(".alert-error")).to_contain_text("Customer confirmed the need")
    assert Deal.objects.get(pk=deals["first"].pk).stage == stages_a[0]
    shot(page, "dialog-refused")

    # Tick it and move: the card lands in Qualified and the check is recorded.
    dialog.get_by_label("Customer confirmed the need").check()
    with page.expect_response(lambda r: r.url.endswith("/move/")) as moved:
        dialog.locator("button[type=submit]").click()
    assert moved.value.status == 200
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#stage-{stages_a[1].pk}-cards #deal-{deals['first'].pk}")).to_be_visible()
    expect(page.locator(f"#stage-{stages_a[1].pk}-header .column-count")).to_have_text("2")
    expect(page.locator(f"#stage-{stages_a[0].pk}-header .column-count")).to_have_text("1")
    shot(page, "board-after-move")

    deal = Deal.objects.get(pk=deals["first"].pk)
    assert deal.stage == stages_a[1]
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1], user=alice).exists()
    check = DealCriterionCheck.objects.get(deal=deal)
    assert check.criterion == criteria["need"] and check.checked_by == alice

    page.reload()
    assert "Forklift fleet" in column_titles(page, stages_a[1])
    page.goto(deal.get_absolute_url())
    expect(page.locator("#exit-criteria")).to_contain_text("Customer confirmed the need")
    expect(page.locator("#exit-criteria")).to_contain_text("Alice Andersen")
    shot(page, "deal-page", full_page=True)


def test_cancel_puts_the_card_back(page, stages_a, board):
    deals = board["deals"]
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    before = column_titles(page, stages_a[0])
    with page.expect_response(lambda r: "/move-check/" in r.url):
        page.locator(f"#deal-{deals['first'].pk}").drag_to(
            page.locator(f"#deal-{deals['qualified'].pk}")
        )
    expect(page.locator("#modal")).to_be_visible()
    page.locator("#modal [data-close-modal]").click()
    expect(page.locator("#modal")).to_be_hidden()
    expect(page.locator(f"#stage-{stages_a[0].pk}-cards #deal-{deals['first'].pk}")).to_be_visible()
    assert column_titles(page, stages_a[0]) == before
    expect(page.locator(f"#deal-{deals['first'].pk}")).not_to_have_class("is-saving")
    assert Deal.objects.get(pk=deals["first"].pk).stage == stages_a[0]


def test_reorder_and_moves_out_of_stages_without_criteria_need_no_dialog(page, stages_a, board):
    deals = board["deals"]
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    with page.expect_response(lambda r: r.url.endswith("/move/")) as move:
        page.locator(f"#deal-{deals['qualified'].pk}").drag_to(
            page.locator(f"#stage-{stages_a[2].pk}-cards")
        )
    assert move.value.status == 200
    expect(page.locator("#modal")).to_be_hidden()
    assert Deal.objects.get(pk=deals["qualified"].pk).stage == stages_a[2]


def test_phone_screens_of_the_deal_page_step_and_the_clean_up_list(
    page, bob, alice, stages_a, pipeline_a, board
):
    pipeline_a.qualified_after_stage = stages_a[1]
    pipeline_a.save()
    DealFactory(stage=stages_a[2], owner=alice, title="Warehouse robots", need_confirmed=True)
    DealFactory(stage=stages_a[3], owner=alice, title="Dock levellers")
    page.set_viewport_size(PHONE)
    log_in(page, "bob")
    deal = board["deals"]["second"]
    page.goto(deal.get_absolute_url())
    page.select_option("#move-stage", str(stages_a[1].pk))
    page.locator("#move-stage").evaluate("el => el.form.submit()")
    expect(page.locator("#move-criteria")).to_contain_text("Customer confirmed the need")
    page.locator("#move-criteria").scroll_into_view_if_needed()
    shot(page, "phone-deal-step")

    page.set_viewport_size(LAPTOP)
    page.goto("/cleanup/")
    expect(page.locator(".cleanup-table")).to_contain_text("Warehouse robots")
    shot(page, "cleanup", full_page=True)
    row = page.locator(".cleanup-row", has_text="Warehouse robots")
    with page.expect_response(lambda r: "/cleanup/deals/" in r.url) as ticked:
        row.locator("button", has_text="Decision maker known").click()
    assert ticked.value.status == 200
    expect(page.locator(".cleanup-row", has_text="Warehouse robots")).to_contain_text("recorded")
    shot(page, "cleanup-ticked")
    page.set_viewport_size(PHONE)
    page.reload()
    shot(page, "phone-cleanup", full_page=True)
