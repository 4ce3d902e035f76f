"""Next steps in a real browser: plan one from a card, see the warning go; complete it and be
asked for the following one, without leaving the board."""

from __future__ import annotations

import re
from datetime import timedelta

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


# --- a new deal is born with its first next step ------------------------------------------


def open_quick_add(page, stage):
    page.click(f"#stage-{stage.pk}-header .column-add-button")
    form = page.locator(f"#stage-{stage.pk}-add form")
    expect(form.locator("input[name=title]")).to_be_focused()
    return form


def test_quick_add_in_a_column_with_its_first_next_step(page, alice, stages_a, output_dir):
    DealFactory(stage=stages_a[1], owner=alice, title="Forklift fleet")
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    form = open_quick_add(page, stages_a[1])
    form.locator("input[name=title]").fill("Pallet wrappers")
    form.locator("input[name=value]").fill("12500")
    form.locator("select[name=step-kind]").select_option("meeting")
    form.locator("input[name=step-subject]").fill("Demo at their warehouse")
    page.screenshot(path=output_dir / "quick-add-laptop.png")
    form.locator("button[type=submit]").click()

    deal_card = page.locator(f"#stage-{stages_a[1].pk}-cards .card").first
    expect(deal_card.locator(".card-title")).to_have_text("Pallet wrappers")
    expect(deal_card.locator(".card-step-subject")).to_have_text("Demo at their warehouse")
    expect(deal_card.locator(".card-step-warning")).to_have_count(0)
    expect(page.locator(f"#stage-{stages_a[1].pk}-add form")).to_have_count(0)
    page.screenshot(path=output_dir / "quick-add-done.png")

    page.reload()
    deal = Deal.objects.get(title="Pallet wrappers")
    expect(page.locator(f"#deal-{deal.pk} .card-step-subject")).to_have_text(
        "Demo at their warehouse"
    )
    step = Activity.objects.get(deal=deal)
    assert (step.kind, step.assignee, deal.next_step_id) == ("meeting", alice, step.pk)


def test_quick_add_with_a_past_date_is_saved_only_when_confirmed(page, alice, stages_a, output_dir):
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    form = open_quick_add(page, stages_a[0])
    form.locator("input[name=title]").fill("Old lead")
    form.locator("input[name=step-subject]").fill("Call back about the offer")
    last_week = timezone.localdate() - timedelta(days=7)
    form.locator("input[name=step-due_date]").fill(last_week.isoformat())
    with page.expect_response(
        lambda r: "/deals/new/" in r.url and r.request.method == "POST"
    ) as sent:
        form.locator("button[type=submit]").click()
    assert sent.value.status == 400
    form = page.locator(f"#stage-{stages_a[0].pk}-add form")
    expect(form).to_contain_text("The next step is dated in the past")
    confirm = form.get_by_label("Yes, it is in the past")
    expect(confirm).to_be_visible()
    expect(form.locator("input[name=title]")).to_have_value("Old lead")
    page.screenshot(path=output_dir / "quick-add-past-date.png")
    assert not Deal.objects.exists()

    confirm.check()
    form.locator("button[type=submit]").click()
    card = page.locator(f"#stage-{stages_a[0].pk}-cards .card").first
    expect(card.locator(".card-step-subject")).to_have_text("Call back about the offer")
    expect(card.locator(".card-step")).to_have_class(re.compile(r"\bis-overdue\b"))
    assert Deal.objects.get(title="Old lead").next_step_due == last_week


def test_full_deal_form_plans_the_first_next_step(page, bob, alex, stages_a, output_dir):
    log_in(page, "bob")
    page.goto(reverse("deal-create", args=[stages_a[0].pipeline_id]))
    page.fill("input[name=title]", "Cold storage hall")
    page.select_option("select[name=stage]", label="Qualified")
    page.select_option("select[name=owner]", label=str(alex))
    page.fill("input[name=value]", "250000")
    page.fill("input[name=step-subject]", "Site visit with their engineer")
    page.locator("label.segment", has_text="Meeting").click()
    page.fill("input[name=step-due_time]", "10:30")
    page.screenshot(path=output_dir / "full-form-laptop.png", full_page=True)
    page.get_by_role("button", name="Create deal").click()
    page.wait_for_url("**/deals/*/")
    expect(page.locator("body")).to_contain_text("Site visit with their engineer")
    deal = Deal.objects.get(title="Cold storage hall")
    step = Activity.objects.get(deal=deal)
    assert (step.kind, step.assignee, deal.owner) == ("meeting", alex, alex)

    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    expect(page.locator(f"#deal-{deal.pk} .card-step-subject")).to_have_text(
        "Site visit with their engineer"
    )


def test_new_deal_forms_on_a_phone(browser, live_server, alice, stages_a, output_dir):
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url)
    page = context.new_page()
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    form = open_quick_add(page, stages_a[0])
    form.locator("input[name=step-subject]").fill("Call about the budget")
    page.screenshot(path=output_dir / "quick-add-phone.png")
    page.goto(reverse("deal-create", args=[stages_a[0].pipeline_id]))
    page.fill("input[name=step-subject]", "Call about the budget")
    page.fill("input[name=step-due_date]", (timezone.localdate() - timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Create deal").click()
    expect(page.locator("body")).to_contain_text("The next step is dated in the past")
    page.screenshot(path=output_dir / "full-form-phone-errors.png", full_page=True)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]  # nothing sticks out sideways
    context.close()
