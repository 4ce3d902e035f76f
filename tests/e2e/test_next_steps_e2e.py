"""Next steps in a real browser: plan one from a card, see the warning go; complete it and be
asked for the following one, without leaving the board."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from pipeline import services
from pipeline.models import Activity, Deal
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_plan_a_next_step_from_a_card_then_complete_it(page, alice, stages_a, output_dir):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklift fleet")
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    card = page.locator(f"#deal-{deal.pk}")
    expect(card.locator(".card-step-warning")).to_have_text("No next step")

    # Click 1 opens the form in the modal; click 2 saves it.
    card.locator(".card-step-edit").click()
    modal = page.locator("#modal")
    expect(modal).to_be_visible()
    expect(modal.locator("#modal-title")).to_have_text("Plan the next step")
    modal.locator("input[name=subject]").fill("Call Jens about the budget")
    page.screenshot(path=output_dir / "plan-next-step.png")
    modal.locator("button[type=submit]").click()
    expect(modal).to_be_hidden()
    card = page.locator(f"#deal-{deal.pk}")
    expect(card.locator(".card-step-subject")).to_have_text("Call Jens about the budget")
    expect(card.locator(".card-step-warning")).to_have_count(0)
    assert Deal.objects.get(pk=deal.pk).next_step_subject == "Call Jens about the budget"

    # Done asks for the following step at once.
    card.locator(".card-step-done").click()
    expect(modal).to_be_visible()
    expect(modal.locator("#modal-title")).to_have_text("What's the next step?")
    expect(modal.locator(".step-done-note")).to_contain_text("Call Jens about the budget")
    expect(page.locator(f"#deal-{deal.pk} .card-step-warning")).to_have_text("No next step")
    page.screenshot(path=output_dir / "asked-for-the-following-step.png")
    modal.locator("input[name=subject]").fill("Send the offer")
    modal.locator("label.segment", has_text="Email").click()
    modal.locator("button[type=submit]").click()
    expect(modal).to_be_hidden()
    expect(page.locator(f"#deal-{deal.pk} .card-step-subject")).to_have_text("Send the offer")
    page.screenshot(path=output_dir / "board-with-the-following-step.png")

    page.reload()
    expect(page.locator(f"#deal-{deal.pk} .card-step-subject")).to_have_text("Send the offer")
    steps = list(Activity.objects.filter(deal=deal).order_by("pk"))
    assert [s.subject for s in steps] == ["Call Jens about the budget", "Send the offer"]
    assert steps[0].done_at is not None and steps[1].done_at is None
    assert steps[1].kind == "email" and steps[1].assignee == alice


def test_complete_in_place_on_my_next_steps(page, alice, stages_a, output_dir):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Racking upgrade")
    step = services.activity_create(
        acting_user=alice, deal=deal, subject="Visit the site", due_date=timezone.localdate()
    )
    log_in(page, "alice")
    page.goto(reverse("my-next-steps"))
    row = page.locator(f"#activity-{step.pk}")
    expect(row).to_contain_text("Visit the site")
    row.locator(".step-check").click()
    modal = page.locator("#modal")
    expect(modal).to_be_visible()
    expect(page.locator(f"#activity-{step.pk}.is-done")).to_be_visible()
    page.screenshot(path=output_dir / "my-next-steps-done.png")
    modal.locator("input[name=subject]").fill("Send the quote")
    modal.locator("button[type=submit]").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#next-steps")).to_contain_text("Send the quote")
    expect(page.locator(f"#activity-{step.pk}")).to_have_count(0)
    assert Deal.objects.get(pk=deal.pk).next_step_subject == "Send the quote"
