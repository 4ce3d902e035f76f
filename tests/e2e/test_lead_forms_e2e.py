"""Website lead forms in a real browser: an admin creates a form and sets it up, a visitor
fills in its public page, the lead lands on the board with an owner and a next step, and a
manager reads the lead balance and sets a capacity. Screenshots go to
/work/wt/shots/leadforms-*.png (laptop and phone)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import Contact
from pipeline.models import Activity, Deal, LeadForm, Notification, RepCapacity, StageChange
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


def shot(page, name: str, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"leadforms-{name}.png", **kwargs)


def test_admin_sets_up_a_form_a_visitor_sends_it_and_the_lead_is_on_the_board(
    page, browser, live_server, settings, admin, alice, alex, bob, stages_a
):
    # The visitor is quick in a test; the minimum fill time is covered by the view tests.
    settings.LEAD_FORM_MIN_FILL_SECONDS = 0
    pipeline = stages_a[0].pipeline

    # --- the admin creates the form ----------------------------------------------------------
    page.set_viewport_size(LAPTOP)
    log_in(page, "admin")
    page.goto(reverse("settings-pipelines"))
    page.locator(".settings-nav").get_by_role("link", name="Lead forms").click()
    expect(page.locator("h1")).to_have_text("Lead forms")
    expect(page.locator(".lead-form-empty")).to_contain_text("No lead forms yet")
    page.fill("#new-lead-form input[name=name]", "Website enquiries")
    page.select_option("#new-lead-form select[name=pipeline]", str(pipeline.pk))
    page.get_by_role("button", name="Create form").click()
    expect(page.locator("h1")).to_contain_text("Website enquiries")
    lead_form = LeadForm.objects.get(name="Website enquiries")

    # --- and sets it up: fields, texts, websites ----------------------------------------------
    page.select_option("select[name=show_company]", "required")
    page.select_option("select[name=show_job_title]", "optional")
    page.fill("input[name=label_message]", "How can we help?")
    page.fill("input[name=title]", "Talk to our warehouse experts")
    page.fill(
        "textarea[name=intro]", "Tell us about your warehouse; we call you back within a day."
    )
    page.fill("textarea[name=thank_you_text]", "Thanks! Your request is with our sales team.")
    page.fill("textarea[name=allowed_origins]", "https://www.example.com")
    # Only the chosen rule's details show: round robin here, with both salespeople ticked.
    expect(page.locator("[data-owner-detail=fixed]")).to_be_hidden()
    expect(page.locator("[data-owner-detail=round_robin]")).to_be_visible()
    page.locator(".lead-form-save").get_by_role("button", name="Save form").click()
    expect(page.locator("#toasts")).to_contain_text("Form saved.")
    lead_form.refresh_from_db()
    assert lead_form.fields["company"] == {"required": True, "label": ""}
    assert lead_form.fields["message"]["label"] == "How can we help?"
    assert lead_form.allowed_origins == "https://www.example.com"
    public_url = page.locator("#public-url").input_value()
    assert public_url.endswith(f"/forms/{lead_form.key}/")
    expect(page.locator("#snippet-form")).to_have_value(
        re.compile(rf'^<form action="[^"]+/forms/{re.escape(lead_form.key)}/" method="post"')
    )
    shot(page, "settings", full_page=True)

    # --- a visitor fills in the public page -------------------------------------------------
    visitor_context = browser.new_context(viewport=LAPTOP, base_url=live_server.url)
    visitor = visitor_context.new_page()
    visitor.set_default_timeout(10_000)
    visitor.goto(reverse("lead-form-public", args=[lead_form.key]))
    expect(visitor.locator("h1")).to_have_text("Talk to our warehouse experts")
    expect(visitor.locator(".lf-hp")).not_to_be_in_viewport()
    visitor.get_by_label("Name").fill("Ingrid Holm")
    visitor.get_by_label("E-mail").fill("ingrid@nordhavn-lager.dk")
    visitor.get_by_label("Phone").fill("+45 33 12 34 56")
    visitor.get_by_label("Company").fill("Nordhavn Lager A/S")
    visitor.get_by_label("Job title").fill("Warehouse manager")
    visitor.get_by_label("How can we help?").fill("We need 40 pallet racks before March.")
    shot(visitor, "public-form")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.locator(".lf-thanks")).to_contain_text(
        "Thanks! Your request is with our sales team."
    )
    shot(visitor, "public-thanks")

    deal = Deal.objects.get(source="Website form: Website enquiries")
    assert deal.title == "Nordhavn Lager A/S"
    assert deal.stage_id == stages_a[0].pk
    assert deal.owner_id == min(alice.pk, alex.pk)  # the round robin's first turn
    assert StageChange.objects.filter(deal=deal, from_stage=None, to_stage=stages_a[0]).exists()
    step = Activity.objects.get(deal=deal)
    assert step.subject == "Call back within 1 working day" and deal.next_step_id == step.pk
    assert Contact.objects.get(pk=deal.contact_id).title == "Warehouse manager"
    assert Notification.objects.filter(user_id=deal.owner_id, deal=deal).exists()

    # --- the phone: the same page, and the iframe variant -----------------------------------
    visitor.set_viewport_size(PHONE)
    visitor.goto(reverse("lead-form-public", args=[lead_form.key]))
    shot(visitor, "public-form-phone", full_page=True)
    visitor.goto(reverse("lead-form-public", args=[lead_form.key]) + "?embed=1")
    expect(visitor.locator(".lf-brand")).to_have_count(0)
    visitor_context.close()

    # --- the owner sees the lead on the board, with its next step ------------------------------
    owner = "alice" if deal.owner_id == alice.pk else "alex"
    rep_context = browser.new_context(viewport=LAPTOP, base_url=live_server.url)
    rep = rep_context.new_page()
    rep.set_default_timeout(10_000)
    log_in(rep, owner)
    rep.goto(reverse("board", args=[pipeline.pk]))
    card = rep.locator(f"#stage-{stages_a[0].pk}-cards #deal-{deal.pk}")
    expect(card).to_contain_text("Nordhavn Lager A/S")
    expect(card.locator(".card-step-subject")).to_have_text("Call back within 1 working day")
    rep.goto(deal.get_absolute_url())
    expect(rep.locator("body")).to_contain_text("Website form: Website enquiries")
    rep.goto(reverse("notification-list"))
    expect(rep.locator(".notification-lead_received")).to_contain_text("Nordhavn Lager A/S")
    rep_context.close()

    # --- the admin sees the count, on the phone too ------------------------------------------
    page.reload()
    expect(page.locator(".lead-form-stats")).to_contain_text("1")
    page.set_viewport_size(PHONE)
    shot(page, "settings-phone", full_page=True)
    page.set_viewport_size(LAPTOP)
    page.goto(reverse("settings-lead-forms"))
    expect(page.locator(f"#lead-form-{lead_form.pk}")).to_contain_text("Taking leads")
    shot(page, "list")

    # --- the manager reads the lead balance and sets a capacity -------------------------------
    for _ in range(5):
        DealFactory(stage=stages_a[1], owner=alice, source="Website form: Website enquiries")
    DealFactory(stage=stages_a[2], owner=alex)
    manager_context = browser.new_context(viewport=LAPTOP, base_url=live_server.url)
    manager = manager_context.new_page()
    manager.set_default_timeout(10_000)
    log_in(manager, "bob")
    manager.get_by_role("link", name="Lead balance").click()
    expect(manager.locator("h1")).to_have_text("Lead balance")
    row = manager.locator(f"#rep-{alice.pk}")
    expect(row).to_contain_text("No capacity set")
    row.locator("input[name=open_deals]").fill("4")
    with manager.expect_response(lambda r: "/lead-balance/capacity/" in r.url) as saved:
        row.get_by_role("button", name="Save").click()
    assert saved.value.status == 200
    row = manager.locator(f"#rep-{alice.pk}")
    expect(row).to_contain_text("Too many")
    expect(row).to_contain_text("Saved")
    other = manager.locator(f"#rep-{alex.pk}")
    other.locator("input[name=open_deals]").fill("10")
    with manager.expect_response(lambda r: "/lead-balance/capacity/" in r.url):
        other.get_by_role("button", name="Save").click()
    expect(manager.locator(f"#rep-{alex.pk}")).to_contain_text("Too few")
    assert sorted(RepCapacity.objects.values_list("user_id", "open_deals")) == sorted(
        [(alice.pk, 4), (alex.pk, 10)]
    )
    manager.reload()
    expect(manager.locator(".lb-flags")).to_contain_text("has too many leads")
    shot(manager, "balance", full_page=True)
    manager.set_viewport_size(PHONE)
    shot(manager, "balance-phone", full_page=True)
    manager_context.close()
