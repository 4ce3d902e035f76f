"""The interface in the user's language, in a real browser (its language sent as
Accept-Language): a Danish salesperson drags a deal through the exit-criteria dialog; a German
manager reads the forecast chart. The expected texts are the catalogues' translations (gettext
under translation.override), never written out here, so the tests hold whatever the
translators write; the JavaScript strings come from the page's own catalogue. Screenshots:
/work/wt/shots/i18n-*.png (laptop and phone)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from crm.web.js_catalogue import js_catalogue
from crm.web.money import money_formatter
from pipeline.forecasting import period_label, periods
from pipeline.models import Deal, ExitCriterion
from pipeline.services.criteria import ExitCriteriaUnmet
from tests.e2e.conftest import log_in
from tests.factories import DealFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/work/wt/shots")
LAPTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}


def shot(page, name: str, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"i18n-{name}.png", **kwargs)


def in_language(language: str, msgid: str, **values) -> str:
    with translation.override(language):
        text = gettext(msgid)
    return text % values if values else text


@pytest.fixture
def localized_page(browser, live_server):
    """A page whose browser asks for the given language (Accept-Language), with the same
    check for JavaScript errors as the shared `page` fixture."""
    contexts, errors = [], []

    def open_page(locale: str):
        context = browser.new_context(viewport=LAPTOP, base_url=live_server.url, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _next_may_15() -> date:
    today = timezone.localdate()
    may = date(today.year, 5, 15)
    return may if may > today else date(today.year + 1, 5, 15)


def test_danish_salesperson_drags_a_deal_through_the_exit_criteria(localized_page, alice, stages_a):
    lead, qualified = stages_a[0], stages_a[1]
    lead.name, qualified.name = "Kvalificering", "Tilbud sendt"
    lead.save(), qualified.save()
    ExitCriterion.objects.create(
        stage=lead, text="Kunden har bekræftet behovet", is_required=True, position=0
    )
    close = _next_may_15()
    deal = DealFactory(
        stage=lead,
        owner=alice,
        title="Truckflåde",
        value=Decimal("12500.50"),
        currency="DKK",
        expected_close_date=close,
    )
    target = DealFactory(stage=qualified, owner=alice, title="Reoler")

    page = localized_page("da-DK")
    log_in(page, "alice")
    page.goto(reverse("board", args=[lead.pipeline_id]))
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.locator("nav.topnav")).to_contain_text(in_language("da", "Board"))

    # Amounts and dates in Danish: the app's own formatter in Danish, the Danish month.
    card = page.locator(f"#deal-{deal.pk}")
    with translation.override("da"):
        amount = money_formatter()(deal.value, deal.currency)
    expect(card.locator(".card-value")).to_have_text(amount)
    card_date = card.locator(".card-date").inner_text()
    assert str(close.day) in card_date and "maj" in card_date.lower(), card_date
    # The titles board.js puts on the cards come from the Danish JavaScript catalogue.
    catalogue = js_catalogue("da")["catalog"]
    expect(card.locator(".card-date")).to_have_attribute(
        "title", catalogue.get("Expected close date") or "Expected close date"
    )
    shot(page, "da-board")

    with page.expect_response(lambda r: "/move-check/" in r.url):
        card.drag_to(page.locator(f"#deal-{target.pk}"))
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#modal-title")).to_have_text(
        in_language("da", "Before moving to %(to)s", to="Tilbud sendt")
    )
    expect(dialog.locator(".badge-required")).to_have_text(in_language("da", "Required"))
    expect(dialog.locator("[data-close-modal]")).to_have_text(in_language("da", "Cancel"))
    expect(dialog.locator("button[type=submit]")).to_have_text(
        in_language("da", "Move to %(to)s", to="Tilbud sendt")
    )
    shot(page, "da-exit-criteria-dialog")

    # Refused without the required tick: the message is the Danish one, nothing moved.
    with page.expect_response(lambda r: r.url.endswith("/move/")) as refused:
        dialog.locator("button[type=submit]").click()
    assert refused.value.status == 422
    error = dialog.locator(".alert-error")
    expect(error).to_contain_text("Kunden har bekræftet behovet")
    with translation.override("da"):
        expected = str(ExitCriteriaUnmet(list(lead.exit_criteria.all())))
    expect(error).to_have_text(expected)
    assert Deal.objects.get(pk=deal.pk).stage == lead
    shot(page, "da-exit-criteria-refused")

    dialog.get_by_label("Kunden har bekræftet behovet").check()
    with page.expect_response(lambda r: r.url.endswith("/move/")) as moved:
        dialog.locator("button[type=submit]").click()
    assert moved.value.status == 200
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#stage-{qualified.pk}-cards #deal-{deal.pk}")).to_be_visible()
    assert Deal.objects.get(pk=deal.pk).stage == qualified

    page.set_viewport_size(PHONE)
    page.goto(deal.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "da")
    shot(page, "da-deal-phone", full_page=True)


def test_german_managers_forecast_chart_speaks_german(localized_page, bob, alice, stages_a):
    today = timezone.localdate()
    for offset, value in [(0, "4000"), (35, "9000"), (70, "2500")]:
        DealFactory(
            stage=stages_a[2],
            owner=alice,
            value=Decimal(value),
            expected_close_date=today + timedelta(days=offset),
        )
    page = localized_page("de-DE")
    log_in(page, "bob")
    page.goto(reverse("forecast"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    chart = page.locator("#forecast-chart")
    expect(chart.locator("h2")).to_have_text(in_language("de", "Forecast by period"))
    expect(chart.locator("svg.chart > title")).to_have_text(
        in_language("de", "Weighted open value per period, stacked, with won deals at the base")
    )
    with translation.override("de"):
        months = [period_label(start, "month") for start in periods(today, "month", 6)]
    axis = chart.locator("g.chart-bar text.axis-label").evaluate_all(
        "labels => labels.map(label => label.textContent.trim())"
    )
    assert axis and set(axis) <= set(months), (axis, months)
    expect(page.locator("h1")).to_have_text(in_language("de", "Forecast"))
    shot(page, "de-forecast", full_page=True)
    page.set_viewport_size(PHONE)
    shot(page, "de-forecast-phone", full_page=True)
