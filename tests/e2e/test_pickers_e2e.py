"""The company and contact pickers in a real browser: the column's quick add picks a company
by typing and the keyboard, the deal form picks a company and then a contact with the mouse.
Screenshots (laptop and phone) go to /work/wt/shots when that folder exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import Contact
from pipeline.models import Deal
from tests.e2e.conftest import log_in
from tests.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 850}


def shoot(page, name: str, *, full_page: bool = False) -> None:
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / f"pickers-{name}.png"), full_page=full_page)


@pytest.fixture
def companies(team_a, team_b, alice):
    """Enough companies that a select of all of them would be useless, and another team's
    look-alike that must never show."""
    names = {
        "Acme Nordic": "acme-nordic.dk",
        "Acme Logistics": "acmelogistics.se",
        "Nordic Acme Holding": "nordicacme.no",
        "Baltic Freight": "balticfreight.ee",
    }
    names |= {f"Imported Company {i:03}": "" for i in range(120)}
    made = {
        name: CompanyFactory(team=team_a, owner=alice, name=name, domain=domain)
        for name, domain in names.items()
    }
    CompanyFactory(team=team_b, name="Acme Secret")
    ContactFactory(company=made["Baltic Freight"], name="Bo Berg", title="Head of logistics")
    ContactFactory(company=made["Baltic Freight"], name="Birte Bak", title="CFO")
    ContactFactory(company=made["Acme Nordic"], name="Dorthe Dahl", title="CEO")
    return made


def test_quick_add_picks_a_company_by_typing_and_keyboard(page, alice, stages_a, companies):
    log_in(page, "alice")
    page.set_viewport_size(LAPTOP)
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    page.click(f"#stage-{stages_a[0].pk}-header .column-add-button")
    form = page.locator(f"#stage-{stages_a[0].pk}-add form")
    form.locator("input[name=title]").fill("Pallet wrappers")
    combobox = form.get_by_role("combobox", name="Company")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    combobox.press_sequentially("acme", delay=40)

    listbox = form.get_by_role("listbox")
    expect(combobox).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option")).to_have_count(3)
    # Names that start with the text first, then a word that does; never another team's.
    expect(listbox.get_by_role("option")).to_contain_text(
        ["Acme Logistics", "Acme Nordic", "Nordic Acme Holding"]
    )
    expect(listbox).not_to_contain_text("Acme Secret")
    combobox.press("ArrowDown")
    first = listbox.get_by_role("option").first
    expect(combobox).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    combobox.press("ArrowDown")
    shoot(page, "quick-add-laptop")
    combobox.press("Enter")  # picks the active option, does not submit the form
    expect(combobox).to_have_value("Acme Nordic")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(form.locator("input[type=hidden][name=company]")).to_have_value(
        str(companies["Acme Nordic"].pk)
    )
    assert not Deal.objects.exists()

    form.locator("input[name=step-subject]").fill("Call about the budget")
    form.get_by_role("button", name="Add deal").click()
    expect(page.locator(f"#stage-{stages_a[0].pk}-cards .card-title")).to_have_text(
        ["Pallet wrappers"]
    )
    deal = Deal.objects.get()
    assert deal.company == companies["Acme Nordic"]


def test_escape_closes_and_no_matches_says_so(page, alice, stages_a, companies):
    log_in(page, "alice")
    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    page.click(f"#stage-{stages_a[0].pk}-header .column-add-button")
    form = page.locator(f"#stage-{stages_a[0].pk}-add form")
    combobox = form.get_by_role("combobox", name="Company")
    combobox.press_sequentially("zzz", delay=40)
    expect(form.locator(".picker-popup")).to_contain_text("No companies match “zzz”.")
    expect(form.get_by_role("status")).to_have_text("No companies match “zzz”.")
    shoot(page, "no-matches-laptop")
    combobox.press("Escape")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(form.locator(".picker-popup")).to_be_hidden()
    combobox.press("Escape")  # a second Escape undoes the typing
    expect(combobox).to_have_value("")
    combobox.press("ArrowDown")  # opens the list: the first companies by name
    expect(form.get_by_role("option").first).to_contain_text("Acme Logistics")
    expect(form.locator(".picker-note")).to_contain_text("Type more of the name")
    combobox.press("Tab")  # leaves without picking
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(form.locator("input[type=hidden][name=company]")).to_have_value("")


def test_deal_form_picks_company_then_contact_with_the_mouse(page, alice, stages_a, companies):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts", company=None)
    log_in(page, "alice")
    page.set_viewport_size(LAPTOP)
    page.goto(deal.get_absolute_url())
    company = page.get_by_role("combobox", name="Company")
    contact = page.get_by_role("combobox", name="Contact")
    company.click()
    company.press_sequentially("balt", delay=40)
    page.get_by_role("option", name="Baltic Freight").click()
    expect(company).to_have_value("Baltic Freight")
    expect(page.locator("[data-picker-clear]").first).to_be_visible()

    contact.click()  # the contacts of the chosen company, without typing
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options).to_contain_text(["Birte Bak", "Bo Berg"])
    options.nth(0).hover()
    shoot(page, "deal-form-laptop")
    page.get_by_role("option", name="Bo Berg").click()
    expect(contact).to_have_value("Bo Berg")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".toast")).to_contain_text("Saved")
    deal.refresh_from_db()
    assert (deal.company, deal.contact.name) == (companies["Baltic Freight"], "Bo Berg")

    # Another company clears a contact who does not work there.
    company = page.get_by_role("combobox", name="Company")
    contact = page.get_by_role("combobox", name="Contact")
    expect(contact).to_have_value("Bo Berg")
    page.locator("[data-picker-name=company] [data-picker-clear]").click()
    expect(company).to_have_value("")
    expect(company).to_be_focused()
    expect(contact).to_have_value("")


def test_picking_a_contact_fills_an_empty_company(page, alice, stages_a, companies):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts", company=None)
    log_in(page, "alice")
    page.goto(deal.get_absolute_url())
    contact = page.get_by_role("combobox", name="Contact")
    contact.press_sequentially("dahl", delay=40)
    option = page.get_by_role("option", name="Dorthe Dahl")
    expect(option).to_contain_text("Acme Nordic · CEO")
    option.click()
    expect(page.get_by_role("combobox", name="Company")).to_have_value("Acme Nordic")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".toast")).to_contain_text("Saved")
    deal.refresh_from_db()
    assert (deal.company.name, deal.contact.name) == ("Acme Nordic", "Dorthe Dahl")


def test_pickers_on_a_phone(page, alice, stages_a, companies):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts", company=None)
    log_in(page, "alice")
    page.set_viewport_size(PHONE)
    page.goto(deal.get_absolute_url())
    company = page.get_by_role("combobox", name="Company")
    company.scroll_into_view_if_needed()
    company.click()
    company.press_sequentially("nord", delay=40)
    expect(page.get_by_role("listbox").get_by_role("option")).to_have_count(2)
    shoot(page, "deal-form-phone")
    page.get_by_role("option", name="Acme Nordic").click()
    expect(company).to_have_value("Acme Nordic")

    page.goto(reverse("board", args=[stages_a[0].pipeline_id]))
    page.click(f"#stage-{stages_a[0].pk}-header .column-add-button")
    form = page.locator(f"#stage-{stages_a[0].pk}-add form")
    combobox = form.get_by_role("combobox", name="Company")
    combobox.press_sequentially("ac", delay=40)
    expect(form.get_by_role("listbox").get_by_role("option")).to_have_count(3)
    shoot(page, "quick-add-phone")


def test_contact_form_picks_its_company(page, alice, companies):
    log_in(page, "alice")
    page.set_viewport_size(LAPTOP)
    page.goto(reverse("contact-create"))
    page.fill("input[name=name]", "Ida Iversen")
    company = page.get_by_role("combobox", name="Company")
    company.press_sequentially("baltic", delay=40)
    company.press("ArrowDown")
    shoot(page, "contact-form-laptop")
    company.press("Enter")
    expect(company).to_have_value("Baltic Freight")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator(".toast")).to_contain_text("Contact added")
    assert Contact.objects.get(name="Ida Iversen").company == companies["Baltic Freight"]


def test_without_javascript_the_typed_name_is_looked_up(
    browser, live_server, alice, stages_a, companies
):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts", company=None)
    context = browser.new_context(
        java_script_enabled=False, base_url=live_server.url, viewport=LAPTOP
    )
    page = context.new_page()
    try:
        log_in(page, "alice")
        page.goto(deal.get_absolute_url())
        company = page.locator("input[name=company_text]")
        expect(company).not_to_have_attribute("role", "combobox")  # a plain text field
        company.fill("balTIC freight")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".toast")).to_contain_text("Saved")
        deal.refresh_from_db()
        assert deal.company == companies["Baltic Freight"]

        page.locator("input[name=company_text]").fill("Baltic")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".errorlist")).to_contain_text("No company is called “Baltic”")
        deal.refresh_from_db()
        assert deal.company == companies["Baltic Freight"]  # nothing changed
        shoot(page, "no-javascript-laptop")
    finally:
        context.close()
