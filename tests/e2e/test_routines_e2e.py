"""Pipeline templates and follow-up routines in a real browser: an admin creates a pipeline
from a template and adds a routine to a stage; a salesperson drags a deal into that stage
(through the exit-criteria dialog) and sees the planned activity as the card's next step.
Screenshots go to /work/wt/shots/routines-*.png (laptop and phone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from pipeline.models import Activity, Deal, FollowUpRoutine, Pipeline, StageChange
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


def shot(page, name: str, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"routines-{name}.png", **kwargs)


def test_admin_sets_up_a_template_and_a_salesperson_gets_the_routine(
    page, browser, live_server, admin, alice, team_a
):
    # --- the admin: a pipeline from a template --------------------------------------------
    page.set_viewport_size(LAPTOP)
    log_in(page, "admin")
    page.goto(reverse("settings-pipelines"))
    page.get_by_role("link", name="New pipeline from template").first.click()
    expect(page.locator("h1")).to_have_text("New pipeline from template")
    card = page.locator("#template-minimal")
    card.locator("input[type=radio]").check()
    expect(card).to_have_css("border-top-color", "rgb(47, 91, 234)")
    card.locator("summary").click()
    expect(card).to_contain_text("Customer went through the proposal with us")
    expect(card).to_contain_text("Send a follow-up on the proposal")
    shot(page, "picker", full_page=True)
    page.select_option("select[name=team]", str(team_a.pk))
    page.fill("input[name=name]", "Quick deals")
    page.get_by_role("button", name="Create pipeline").click()
    expect(page.locator("h1")).to_contain_text("Quick deals")
    pipeline = Pipeline.objects.get(name="Quick deals")
    interested, proposal, _signing = pipeline.stages.order_by("position")
    assert proposal.name == "Proposal under review"

    # --- the admin: one more routine on "Proposal under review" -----------------------------
    row = page.locator(f"#stage-{proposal.pk}")
    expect(row).to_contain_text("1 routine")
    row.get_by_role("link", name="Edit").click()
    routines = page.locator(f"#stage-{proposal.pk}-routines")
    expect(routines).to_contain_text("Send a follow-up on the proposal")
    routines.locator("input[name=subject]").fill("Call to hear their first reaction")
    routines.locator("select[name=kind]").select_option("call")
    routines.locator("input[name=due_in_days]").fill("2")
    with page.expect_response(lambda r: "/routines/new/" in r.url) as added:
        routines.get_by_role("button", name="Add routine").click()
    assert added.value.status == 200
    expect(routines).to_contain_text("Call to hear their first reaction")
    expect(routines).to_contain_text("after 2 working days")
    routines.scroll_into_view_if_needed()
    shot(page, "stage-routines")
    assert list(
        FollowUpRoutine.objects.filter(stage=proposal)
        .order_by("position")
        .values_list("subject", "kind", "due_in_days")
    ) == [
        ("Send a follow-up on the proposal", "email", 3),
        ("Call to hear their first reaction", "call", 2),
    ]

    # --- the salesperson: a drag into that stage --------------------------------------------
    deal = DealFactory(stage=interested, owner=alice, title="Warehouse shelving")
    DealFactory(stage=interested, owner=alice, title="Loading dock")
    context = browser.new_context(viewport=LAPTOP, base_url=live_server.url)
    rep = context.new_page()
    rep.set_default_timeout(10_000)
    log_in(rep, "alice")
    rep.goto(reverse("board", args=[pipeline.pk]))
    card = rep.locator(f"#deal-{deal.pk}")
    expect(card.locator(".card-step")).to_have_class("card-step is-missing")
    with rep.expect_response(lambda r: "/move-check/" in r.url):
        card.drag_to(rep.locator(f"#stage-{proposal.pk}-cards"))
    dialog = rep.locator("#modal")
    expect(dialog).to_contain_text("Customer confirmed the need")
    dialog.get_by_label("Customer confirmed the need").check()
    with rep.expect_response(lambda r: r.url.endswith("/move/")) as moved:
        dialog.locator("button[type=submit]").click()
    assert moved.value.status == 200
    moved_card = rep.locator(f"#stage-{proposal.pk}-cards #deal-{deal.pk}")
    expect(moved_card.locator(".card-step-subject")).to_have_text(
        "Call to hear their first reaction"
    )
    shot(rep, "board-after-drag")

    deal = Deal.objects.get(pk=deal.pk)
    entry = StageChange.objects.get(deal=deal, to_stage=proposal)
    planned = Activity.objects.filter(deal=deal, stage_change=entry).order_by("due_date")
    assert [(a.subject, a.assignee_id) for a in planned] == [
        ("Call to hear their first reaction", alice.pk),
        ("Send a follow-up on the proposal", alice.pk),
    ]
    assert deal.next_step_id == planned[0].pk

    rep.reload()
    expect(rep.locator(f"#deal-{deal.pk} .card-step-subject")).to_have_text(
        "Call to hear their first reaction"
    )
    rep.goto(deal.get_absolute_url())
    expect(rep.locator("#next-step")).to_contain_text("Follow-up routine")
    shot(rep, "deal-page", full_page=True)

    # --- phone screens ---------------------------------------------------------------------
    rep.set_viewport_size(PHONE)
    rep.goto(deal.get_absolute_url())
    shot(rep, "deal-page-phone")
    page.set_viewport_size(PHONE)
    page.goto(reverse("settings-pipeline-from-template") + "?template=b2b-service")
    shot(page, "picker-phone")
    page.goto(reverse("settings-stage-update", args=[proposal.pk]))
    page.locator(f"#stage-{proposal.pk}-routines").scroll_into_view_if_needed()
    shot(page, "stage-routines-phone")
    context.close()
