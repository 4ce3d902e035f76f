"""Settings in a real browser: an admin reorders stages by dragging a row's handle and by
keyboard (the move buttons are real forms), edits a stage in place with its exit criteria;
every change persists (database, and the page after reload)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from pipeline.models import ExitCriterion, LostReason, Stage
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/work/wt/shots")


def shot(page, output_dir: Path, name: str) -> None:
    """Into the test's output folder, and the shared review folder when there is one."""
    page.screenshot(path=output_dir / f"{name}.png", full_page=True)
    if SHOTS.is_dir():
        page.screenshot(path=SHOTS / f"set-pipelines-{name}.png", full_page=True)


def board_order(pipeline) -> list[str]:
    return list(
        Stage.objects.filter(pipeline=pipeline, is_archived=False)
        .order_by("position", "pk")
        .values_list("name", flat=True)
    )


def row_names(page) -> list[str]:
    return page.locator("#stage-list > li .stage-name").all_inner_texts()


def test_admin_reorders_stages_by_drag_and_by_keyboard(page, admin, stages_a, output_dir):
    pipeline = stages_a[0].pipeline
    DealFactory(stage=stages_a[1])
    ExitCriterion.objects.create(stage=stages_a[1], text="Customer confirmed the need")
    ExitCriterion.objects.create(
        stage=stages_a[1], text="Decision maker identified", is_required=False, position=1
    )
    page.set_viewport_size({"width": 1366, "height": 850})
    log_in(page, "admin")
    page.goto(reverse("settings-pipeline", args=[pipeline.pk]))
    expect(page.locator("#stage-list > li")).to_have_count(4)
    shot(page, output_dir, "stages-laptop")

    # Drag "Negotiation" (last) by its handle onto "Lead in" (first).
    last = page.locator(f"#stage-{stages_a[3].pk} .drag-handle")
    with page.expect_response(lambda r: "/stages/order/" in r.url) as saved:
        last.drag_to(page.locator(f"#stage-{stages_a[0].pk}"))
    assert saved.value.status == 200
    expected = ["Negotiation", "Lead in", "Qualified", "Proposal"]
    expect(page.locator("#stage-list > li .stage-name")).to_have_text(expected)
    assert board_order(pipeline) == expected

    # Keyboard: focus "Move Lead in up" and press Enter; focus stays on the moved stage.
    page.get_by_role("button", name="Move Lead in up").focus()
    with page.expect_response(lambda r: "/move/" in r.url):
        page.keyboard.press("Enter")
    expected = ["Lead in", "Negotiation", "Qualified", "Proposal"]
    expect(page.locator("#stage-list > li .stage-name")).to_have_text(expected)
    expect(page.get_by_role("button", name="Move Lead in up")).to_be_focused()
    # Then its "down" button (focused directly: a Tab pressed while the swapped list is still
    # settling could land elsewhere on a loaded machine).
    page.get_by_role("button", name="Move Lead in down").focus()
    with page.expect_response(lambda r: "/move/" in r.url):
        page.keyboard.press("Enter")
    expected = ["Negotiation", "Lead in", "Qualified", "Proposal"]
    expect(page.locator("#stage-list > li .stage-name")).to_have_text(expected)
    assert board_order(pipeline) == expected

    page.reload()
    expect(page.locator("#stage-list > li .stage-name")).to_have_text(expected)
    page.goto(reverse("board", args=[pipeline.pk]))
    expect(page.locator(".column-title").first).to_contain_text("Negotiation")
    page.goto(reverse("settings-pipelines"))
    expect(page.locator("#pipeline-" + str(pipeline.pk))).to_contain_text("New business")
    shot(page, output_dir, "pipelines-laptop")


def test_admin_edits_a_stage_in_place_with_its_exit_criteria(page, admin, stages_a, output_dir):
    pipeline = stages_a[0].pipeline
    stage = stages_a[1]
    ExitCriterion.objects.create(stage=stage, text="Customer confirmed the need")
    page.set_viewport_size({"width": 1366, "height": 850})
    log_in(page, "admin")
    page.goto(reverse("settings-pipeline", args=[pipeline.pk]))
    row = page.locator(f"#stage-{stage.pk}")
    row.get_by_role("link", name="Edit").click()
    expect(row.locator("input[name=rot_days]")).to_be_visible()
    row.locator("input[name=text]").fill("Decision maker identified")
    row.locator("select[name=is_required]").select_option("0")
    with page.expect_response(lambda r: "/criteria/new/" in r.url) as added:
        row.get_by_role("button", name="Add criterion").click()
    assert added.value.status == 200
    expect(row.locator(".criterion")).to_have_count(2)
    expect(row.locator(".badge-advisory")).to_have_text("Advisory")
    shot(page, output_dir, "stage-edit-laptop")

    row.locator("input[name=rot_days]").fill("0")
    row.get_by_role("button", name="Save stage").click()
    expect(row.locator(".errorlist")).to_be_visible()
    assert Stage.objects.get(pk=stage.pk).rot_days == 14
    row.locator("input[name=rot_days]").fill("21")
    row.locator("input[name=name]").fill("Need confirmed")
    with page.expect_response(lambda r: "/edit/" in r.url) as saved:
        row.get_by_role("button", name="Save stage").click()
    assert saved.value.status == 200
    expect(row.locator(".stage-name")).to_have_text("Need confirmed")
    expect(row).to_contain_text("21 days")
    expect(row).to_contain_text("2 criteria")
    stage.refresh_from_db()
    assert (stage.name, stage.rot_days) == ("Need confirmed", 21)
    assert list(stage.exit_criteria.values_list("is_required", flat=True)) == [True, False]

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shot(page, output_dir, "stages-phone")


def test_admin_reorders_and_retires_lost_reasons(page, admin, stages_a, output_dir):
    LostReason.objects.all().delete()
    first = LostReason.objects.create(name="Price too high", position=0)
    LostReason.objects.create(name="Chose a competitor", position=1)
    page.set_viewport_size({"width": 1366, "height": 850})
    log_in(page, "admin")
    page.goto(reverse("settings-lost-reasons"))
    with page.expect_response(lambda r: "/order/" in r.url):
        page.locator(f"#entry-{first.pk} .drag-handle").drag_to(page.locator(".entry-row").nth(1))
    expect(page.locator(".entry-name strong")).to_have_text(
        ["Chose a competitor", "Price too high"]
    )
    with page.expect_response(lambda r: "/retire/" in r.url):
        page.locator(f"#entry-{first.pk}").get_by_role("button", name="Retire").click()
    expect(page.locator(f"#entry-{first.pk}")).to_contain_text("Retired")
    shot(page, output_dir, "lost-reasons-laptop")
    page.reload()
    expect(page.locator(".entry-name strong")).to_have_text(
        ["Chose a competitor", "Price too high"]
    )
    first.refresh_from_db()
    assert not first.is_active and first.position == 1
