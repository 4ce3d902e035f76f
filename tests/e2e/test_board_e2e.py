"""The board in a real browser: drag real cards, then check the page after reload and the
database."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from pipeline.models import Deal, DealStatus, LostReason, StageChange
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(alice, stages_a, carol, stages_b):
    deals = {
        "first": DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet"),
        "second": DealFactory(stage=stages_a[0], owner=alice, title="Racking upgrade"),
        "third": DealFactory(stage=stages_a[0], owner=alice, title="Scanner refresh"),
        "qualified": DealFactory(stage=stages_a[1], owner=alice, title="Cold storage"),
        "foreign": DealFactory(stage=stages_b[0], owner=carol, title="South secret"),
    }
    return deals


def column_titles(page, stage):
    return page.locator(f"#stage-{stage.pk}-cards .card .card-title").all_inner_texts()


def test_drag_a_card_to_another_column_persists(page, alice, stages_a, board, output_dir):
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    card = page.locator(f"#deal-{board['first'].pk}")
    target = page.locator(f"#deal-{board['qualified'].pk}")
    with page.expect_response(lambda r: "/move/" in r.url) as move:
        card.drag_to(target)
    assert move.value.status == 200
    expect(page.locator(f"#stage-{stages_a[1].pk}-header .column-count")).to_have_text("2")
    expect(page.locator(f"#stage-{stages_a[0].pk}-header .column-count")).to_have_text("2")
    page.screenshot(path=output_dir / "board-after-drag.png", full_page=True)

    page.reload()
    assert "Forklift fleet" in column_titles(page, stages_a[1])
    assert "Forklift fleet" not in column_titles(page, stages_a[0])
    deal = Deal.objects.get(pk=board["first"].pk)
    assert deal.stage == stages_a[1] and deal.version == 2
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1], user=alice).exists()


def test_reorder_within_a_column(page, stages_a, board):
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    assert column_titles(page, stages_a[0]) == [
        "Forklift fleet",
        "Racking upgrade",
        "Scanner refresh",
    ]
    with page.expect_response(lambda r: "/move/" in r.url) as move:
        page.locator(f"#deal-{board['third'].pk}").drag_to(
            page.locator(f"#deal-{board['first'].pk}")
        )
    assert move.value.status == 200
    page.reload()
    titles = column_titles(page, stages_a[0])
    assert titles[0] == "Scanner refresh" and sorted(titles) == sorted(
        ["Forklift fleet", "Racking upgrade", "Scanner refresh"]
    )
    database = list(
        Deal.objects.filter(stage=stages_a[0], status="open")
        .order_by("position")
        .values_list("title", flat=True)
    )
    assert database == titles


def test_rejected_move_puts_the_card_back_and_says_why(page, stages_a, board):
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    card = page.locator(f"#deal-{board['second'].pk}")
    # Force another team's deal id into the request the card will send.
    foreign_url = reverse("deal-move", args=[board["foreign"].pk])
    card.evaluate("(el, url) => { el.dataset.moveUrl = url; }", foreign_url)
    with page.expect_response(lambda r: "/move/" in r.url) as move:
        card.drag_to(page.locator(f"#deal-{board['qualified'].pk}"))
    assert move.value.status == 404
    expect(page.locator("#toasts .toast-error")).to_contain_text("another team")
    expect(
        page.locator(f"#stage-{stages_a[0].pk}-cards #deal-{board['second'].pk}")
    ).to_be_visible()
    assert column_titles(page, stages_a[0]) == [
        "Forklift fleet",
        "Racking upgrade",
        "Scanner refresh",
    ]
    assert Deal.objects.get(pk=board["foreign"].pk).stage == board["foreign"].stage
    assert Deal.objects.get(pk=board["second"].pk).stage == stages_a[0]


def test_stale_card_is_put_back_and_the_board_refreshed(page, alice, stages_a, board):
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    # Someone else moves the card after the page was loaded.
    Deal.objects.filter(pk=board["first"].pk).update(stage=stages_a[2], version=5)
    with page.expect_response(lambda r: "/move/" in r.url) as move:
        page.locator(f"#deal-{board['first'].pk}").drag_to(
            page.locator(f"#deal-{board['qualified'].pk}")
        )
    assert move.value.status == 409
    expect(page.locator("#toasts .toast-error")).to_contain_text("changed this deal")
    expect(page.locator(f"#stage-{stages_a[2].pk}-cards #deal-{board['first'].pk}")).to_be_visible()


def test_quick_add_and_mark_lost_from_the_board(page, stages_a, board, output_dir):
    # Transactional tests empty the tables afterwards, migration-seeded rows included.
    LostReason.objects.get_or_create(name="Price too high")
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    page.click(f"#stage-{stages_a[0].pk}-header .column-add-button")
    page.fill(f"#stage-{stages_a[0].pk}-add input[name=title]", "Pallet wrappers")
    page.fill(f"#stage-{stages_a[0].pk}-add input[name=value]", "12500")
    page.fill(f"#stage-{stages_a[0].pk}-add input[name=step-subject]", "Call the buyer")
    page.click(f"#stage-{stages_a[0].pk}-add button[type=submit]")
    expect(page.locator(f"#stage-{stages_a[0].pk}-cards .card").first).to_contain_text(
        "Pallet wrappers"
    )
    assert Deal.objects.filter(title="Pallet wrappers", stage=stages_a[0]).exists()

    card = page.locator(f"#deal-{board['third'].pk}")
    card.hover()
    card.locator(".chip-lost").click()
    expect(page.locator("#modal")).to_be_visible()
    page.select_option("#modal select[name=reason]", label="Price too high")
    page.screenshot(path=output_dir / "lost-dialog.png")
    page.click("#modal button[type=submit]")
    expect(page.locator("#modal")).to_be_hidden()
    expect(page.locator(f"#deal-{board['third'].pk}")).to_have_count(0)
    deal = Deal.objects.get(pk=board["third"].pk)
    assert deal.status == DealStatus.LOST and deal.lost_from_stage == stages_a[0]


def test_filters_survive_a_reload(page, alice, alex, stages_a, board):
    DealFactory(stage=stages_a[0], owner=alex, title="Alex's deal")
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    expect(page.locator(".card", has_text="Alex's deal")).to_have_count(1)
    page.select_option("#board-owner", "me")
    page.wait_for_url("**owner=me**")
    expect(page.locator(".card", has_text="Alex's deal")).to_have_count(0)
    page.reload()
    expect(page.locator("#board-owner")).to_have_value("me")
    expect(page.locator(".card", has_text="Alex's deal")).to_have_count(0)
    expect(page.locator(".card", has_text="Forklift fleet")).to_have_count(1)


def test_board_on_a_phone_scrolls_sideways(browser, live_server, stages_a, board, output_dir):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    page = context.new_page()
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    width = page.evaluate("() => [document.querySelector('#board').scrollWidth, window.innerWidth]")
    assert width[0] > width[1]
    page.screenshot(path=output_dir / "board-phone.png")
    context.close()


def test_a_long_column_loads_more_cards_as_it_scrolls(page, alice, stages_a, settings):
    settings.BOARD_PAGE_SIZE = 12
    for i in range(30):
        DealFactory(stage=stages_a[2], owner=alice, title=f"Long tail {i:02d}")
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    cards = page.locator(f"#stage-{stages_a[2].pk}-cards .card")
    expect(cards).to_have_count(12)
    for expected in (24, 30):
        with page.expect_response(lambda r: "/cards/" in r.url):
            page.locator(f"#stage-{stages_a[2].pk}-cards .load-more").scroll_into_view_if_needed()
        expect(cards).to_have_count(expected)
    expect(page.locator(f"#stage-{stages_a[2].pk}-cards .load-more")).to_have_count(0)
    titles = page.locator(f"#stage-{stages_a[2].pk}-cards .card .card-title").all_inner_texts()
    assert titles == [f"Long tail {i:02d}" for i in range(30)]


def test_deal_page_moves_with_the_keyboard_and_saves_edits(
    page, alice, stages_a, board, output_dir
):
    deal = board["first"]
    log_in(page, "alice")
    page.goto(deal.get_absolute_url())
    page.focus("#move-stage")
    page.select_option("#move-stage", str(stages_a[2].pk))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#toasts")).to_contain_text("Moved to Proposal")
    expect(page.locator(".stage-path .current")).to_have_text("Proposal")
    page.fill("input[name=title]", "Forklift fleet, 40 units")
    page.click("text=Save changes")
    expect(page.locator("h1")).to_have_text("Forklift fleet, 40 units")
    page.screenshot(path=output_dir / "deal-page.png", full_page=True)
    deal.refresh_from_db()
    assert deal.stage == stages_a[2] and deal.title == "Forklift fleet, 40 units"


def test_stale_edit_in_the_browser_shows_both_versions(page, alice, stages_a, board):
    deal = board["first"]
    log_in(page, "alice")
    page.goto(deal.get_absolute_url())
    Deal.objects.filter(pk=deal.pk).update(title="Renamed by Bob", version=2)
    page.fill("input[name=title]", "Renamed by Alice")
    page.click("text=Save changes")
    expect(page.locator(".conflict")).to_contain_text("Renamed by Bob")
    expect(page.locator("input[name=title]")).to_have_value("Renamed by Alice")
    assert Deal.objects.get(pk=deal.pk).title == "Renamed by Bob"
    page.click("text=Save changes")  # saving again, deliberately, keeps Alice's version
    expect(page.locator("h1")).to_have_text("Renamed by Alice")


def test_the_main_menu_on_a_phone_shows_where_you_are_and_that_there_is_more(
    browser, live_server, stages_a, board, output_dir
):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    page = context.new_page()
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    nav = page.locator(".topnav")
    expect(nav).to_have_class(re.compile(r"\bmore-right\b"))
    expect(nav).not_to_have_class(re.compile(r"\bmore-left\b"))
    # A section at the far end: its link is scrolled into the menu's view, the start fades.
    page.goto(reverse("contact-list"))
    expect(nav).to_have_class(re.compile(r"\bmore-left\b"))
    link = page.locator(".topnav a.active").bounding_box()
    box = nav.bounding_box()
    assert box["x"] <= link["x"] and link["x"] + link["width"] <= box["x"] + box["width"]
    page.screenshot(path=output_dir / "contacts-phone-menu.png")
    # Scrolled back to the start by hand, the fade moves to the other side.
    nav.evaluate("el => { el.scrollLeft = 0; el.dispatchEvent(new Event('scroll')); }")
    expect(nav).not_to_have_class(re.compile(r"\bmore-left\b"))
    expect(nav).to_have_class(re.compile(r"\bmore-right\b"))
    context.close()
