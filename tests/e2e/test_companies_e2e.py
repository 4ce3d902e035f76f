"""Companies in a real browser: adding a look-alike asks "Did you mean ...?" and saves on
"Add anyway", with the new contact details; a stage saved out of probability order is
warned about in place. Screenshots go to /work/shots/companies when that folder exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import Company
from pipeline.models import Stage
from tests.e2e.conftest import log_in
from tests.factories import CompanyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/shots/companies")


def shoot(page, name: str) -> None:
    if not SHOTS.is_dir():
        return
    for label, size in (("laptop", (1440, 900)), ("phone", (390, 844))):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def test_adding_a_look_alike_asks_first_and_saves_when_confirmed(page, alice, bob, team_a):
    existing = CompanyFactory(team=team_a, owner=bob, name="Acme A/S", domain="acme.dk")
    log_in(page, "alice")
    page.goto(reverse("company-create"))
    page.fill("input[name=name]", "ACME ApS")
    page.fill("input[name=registration_number]", "DK 12 34 56 78")
    page.fill("input[name=website]", "www.acme.dk/kontakt")
    page.fill("input[name=phone]", "+45 70 20 30 40")
    page.select_option("select[name=country]", "DK")
    page.fill("textarea[name=address]", "Havnegade 1\n1058 København K")
    page.get_by_role("button", name="Add company").click()

    warning = page.locator("#duplicates")
    expect(warning).to_contain_text("Did you mean")
    expect(warning.get_by_role("link", name="Acme A/S")).to_have_attribute(
        "href", existing.get_absolute_url()
    )
    expect(warning).to_contain_text("same name and web domain")
    assert Company.objects.count() == 1  # nothing saved yet
    # What was typed is still there to confirm.
    expect(page.locator("textarea[name=address]")).to_have_value("Havnegade 1\n1058 København K")
    shoot(page, "company-form-did-you-mean")

    page.get_by_role("button", name="Add anyway").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    created = Company.objects.exclude(pk=existing.pk).get()
    assert (created.name, created.website, created.country.code) == (
        "ACME ApS",
        "https://www.acme.dk/kontakt",
        "DK",
    )
    expect(page.locator("h1")).to_contain_text("ACME ApS")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("DK 12 34 56 78")
    expect(facts).to_contain_text("Denmark")
    expect(facts.get_by_role("link", name="www.acme.dk/kontakt")).to_have_attribute(
        "href", "https://www.acme.dk/kontakt"
    )
    assert created.domain == "acme.dk"  # taken from the website
    page.reload()
    expect(page.locator("dl.facts")).to_contain_text("Havnegade 1")
    shoot(page, "company-page-details")


def test_a_stage_saved_out_of_order_is_warned_in_place(page, admin, stages_a):
    log_in(page, "admin")
    page.goto(reverse("settings-pipeline", args=[stages_a[0].pipeline_id]))
    warning = page.locator("#stage-probability-warning")
    expect(warning).not_to_contain_text("out of order")
    proposal = page.locator(f"#stage-{stages_a[2].pk}")
    proposal.get_by_role("link", name="Edit").click()
    page.fill(f"#stage-{stages_a[2].pk} input[name=probability]", "80")
    page.get_by_role("button", name="Save stage").click()
    expect(warning).to_contain_text("Probabilities out of order")
    expect(warning).to_contain_text("“Negotiation” (75 %) comes after “Proposal” (80 %).")
    assert Stage.objects.get(pk=stages_a[2].pk).probability == 80  # saved, not blocked
    page.reload()
    expect(page.locator("#stage-probability-warning")).to_contain_text("comes after “Proposal”")
    shoot(page, "stage-settings-out-of-order")
