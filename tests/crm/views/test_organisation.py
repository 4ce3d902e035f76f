"""The organisation settings page: who gets in, what bad input changes (nothing), and what a
change of reporting currency does to money (the same amounts, counted in another unit)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Organisation
from crm.organisation import organisation_changed, organisation_get
from crm.services.organisation import organisation_update
from pipeline import services
from pipeline.models import ExchangeRate, ForecastSnapshotLine, SalesTarget
from pipeline.money import rates_changed, rates_on
from pipeline.selectors.forecast import ForecastFilters, forecast_for_user
from tests.conftest import requires_postgres
from tests.factories import DealFactory

URL = "/settings/organisation/"
RATES_URL = "/settings/exchange-rates/"
HTMX = {"HTTP_HX_REQUEST": "true"}
VALID = {
    "name": "Fjord Systems",
    "reporting_currency": "EUR",
    "time_zone": "Europe/Oslo",
    "week_start": "6",
}

pytestmark = pytest.mark.django_db


def state() -> tuple:
    row = Organisation.objects.get(pk=1)
    rates = list(ExchangeRate.objects.order_by("pk").values_list("currency", "rate", "valid_from"))
    return (row.name, row.reporting_currency, row.time_zone, row.week_start, rates)


def post(client, url, data, *, htmx=False, on_commit=None):
    extra = HTMX if htmx else {}
    if on_commit is None:
        return client.post(url, data, **extra)
    with on_commit(execute=True):
        return client.post(url, data, **extra)


# --- access ---------------------------------------------------------------------------------


def test_urls_are_named_as_the_settings_shell_expects():
    assert reverse("settings-organisation") == URL
    assert reverse("settings-exchange-rate-create") == RATES_URL


def test_admin_sees_the_page_with_both_forms(client, admin):
    client.force_login(admin)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="time_zone"' in page and 'name="rate"' in page
    assert 'class="active">Organisation</a>' in page  # its entry in the settings nav


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
@pytest.mark.parametrize("url", [URL, RATES_URL])
def test_everyone_but_an_admin_gets_403_and_changes_nothing(client, request, persona, url):
    client.force_login(request.getfixturevalue(persona))
    before = state()
    if url == URL:
        assert client.get(url).status_code == 403
    data = {**VALID, "currency": "DKK", "rate": "0.2", "valid_from": "2026-01-01"}
    assert client.post(url, data).status_code == 403
    assert client.post(url, data, **HTMX).status_code == 403
    assert state() == before


@pytest.mark.parametrize("url", [URL, RATES_URL])
def test_anonymous_is_sent_to_log_in(client, url):
    response = client.get(url) if url == URL else client.post(url, {})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_service_refuses_a_non_admin(bob):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        organisation_update(
            acting_user=bob, name="X", reporting_currency="EUR", time_zone="UTC", week_start=0
        )


# --- saving ---------------------------------------------------------------------------------


def test_plain_save_redirects_and_the_name_is_in_the_top_bar(
    client, admin, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    response = post(client, URL, VALID, on_commit=django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response.url == URL
    row = Organisation.objects.get(pk=1)
    assert (row.name, row.time_zone, row.week_start) == ("Fjord Systems", "Europe/Oslo", 6)
    page = client.get(reverse("home"), follow=True).content.decode()
    assert '<span class="brand-name">Fjord Systems</span>' in page


def test_htmx_save_answers_the_fragment_with_a_toast(
    client, admin, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    response = post(client, URL, VALID, htmx=True, on_commit=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="organisation-settings"' in html
    assert "Organisation settings saved." in html
    assert 'hx-swap-oob="innerHTML:.brand-name">Fjord Systems<' in html
    assert Organisation.objects.get(pk=1).name == "Fjord Systems"


def test_saving_the_same_values_twice_changes_nothing(admin, django_capture_on_commit_callbacks):
    values = {"name": "Same", "reporting_currency": "EUR", "time_zone": "UTC", "week_start": 0}
    with django_capture_on_commit_callbacks(execute=True):
        organisation_update(acting_user=admin, **values)
    stamp = Organisation.objects.get(pk=1).updated_at
    organisation_update(acting_user=admin, **values)
    assert Organisation.objects.get(pk=1).updated_at == stamp


BAD_ORGANISATION = [
    pytest.param({"name": ""}, id="empty name"),
    pytest.param({"name": "x" * 101}, id="long name"),
    pytest.param({"time_zone": "Mars/Olympus"}, id="unknown zone"),
    pytest.param({"time_zone": "Europe/" + "x" * 80}, id="long zone"),
    pytest.param({"reporting_currency": "XBT"}, id="unknown currency"),
    pytest.param({"week_start": "3"}, id="Thursday"),
    pytest.param({"week_start": "sunday"}, id="not a number"),
]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("bad", BAD_ORGANISATION)
def test_bad_organisation_input_is_400_and_changes_nothing(client, admin, bad, htmx):
    client.force_login(admin)
    before = state()
    response = post(client, URL, {**VALID, **bad}, htmx=htmx)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert state() == before


# --- exchange rates -------------------------------------------------------------------------


def test_a_new_rate_is_listed_with_its_date_and_who_set_it(
    client, admin, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    day = timezone.localdate() - timedelta(days=2)
    data = {
        "currency": "DKK",
        "rate": "0.1342",
        "valid_from": day.isoformat(),
        "reporting_currency": "EUR",
    }
    response = post(client, RATES_URL, data, on_commit=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    row = ExchangeRate.objects.get(currency="DKK", valid_from=day)
    assert (row.currency, row.rate, row.valid_from, row.set_by) == (
        "DKK",
        Decimal("0.1342"),
        day,
        admin,
    )
    assert rates_on(timezone.localdate())["DKK"].rate == Decimal("0.1342")
    page = client.get(URL).content.decode()
    assert "0.1342" in page and str(admin) in page


def test_a_later_rate_keeps_the_earlier_one_in_the_history(
    client, admin, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    today = timezone.localdate()
    for days_ago, rate in ((20, "0.1300"), (1, "0.1400")):
        data = {
            "currency": "DKK",
            "rate": rate,
            "valid_from": (today - timedelta(days=days_ago)).isoformat(),
            "reporting_currency": "EUR",
        }
        response = post(
            client, RATES_URL, data, htmx=True, on_commit=django_capture_on_commit_callbacks
        )
        assert response.status_code == 200
        assert "Exchange rate saved." in response.content.decode()
    assert ExchangeRate.objects.filter(currency="DKK").count() == 3  # with the install's
    assert rates_on(today - timedelta(days=5))["DKK"].rate == Decimal("0.13")
    assert rates_on(today)["DKK"].rate == Decimal("0.14")


RATE = {"currency": "DKK", "rate": "0.13", "valid_from": "2026-01-01", "reporting_currency": "EUR"}

BAD_RATES = [
    pytest.param({"rate": "0"}, id="zero"),
    pytest.param({"rate": "-1"}, id="negative"),
    pytest.param({"rate": "abc"}, id="not a number"),
    pytest.param({"rate": "1" * 20}, id="too many digits"),
    pytest.param({"rate": "0.123456789"}, id="too many places"),
    pytest.param({"rate": "2000000"}, id="absurd"),
    pytest.param({"currency": "EUR"}, id="the reporting currency itself"),
    pytest.param({"currency": "BTC"}, id="unknown currency"),
    pytest.param({"valid_from": "yesterday"}, id="not a date"),
    pytest.param({"valid_from": "1999-12-31"}, id="too early"),
    pytest.param({"valid_from": "2999-01-01"}, id="too late"),
]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("bad", BAD_RATES)
def test_bad_rate_input_is_400_and_changes_nothing(client, admin, bad, htmx):
    client.force_login(admin)
    before = state()
    data = {**RATE, **bad}
    response = post(client, RATES_URL, data, htmx=htmx)
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert state() == before


def test_a_rate_without_its_unit_is_400(client, admin):
    client.force_login(admin)
    before = state()
    data = {k: v for k, v in RATE.items() if k != "reporting_currency"}
    assert client.post(RATES_URL, data).status_code == 400
    assert state() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_rate_entered_against_the_old_reporting_currency_is_409(
    client, admin, htmx, django_capture_on_commit_callbacks
):
    """Another admin switched to DKK while this form (in EUR) was open: "0.13" would now mean
    0.13 DKK per unit. Refused, with a fresh form in DKK."""
    with django_capture_on_commit_callbacks(execute=True):
        organisation_update(
            acting_user=admin,
            name="Nordlys",
            reporting_currency="DKK",
            time_zone="Europe/Copenhagen",
            week_start=0,
        )
    client.force_login(admin)
    before = state()
    response = post(client, RATES_URL, {**RATE, "currency": "SEK"}, htmx=htmx)
    assert response.status_code == 409
    html = response.content.decode()
    assert "The reporting currency is now DKK" in html
    assert 'name="reporting_currency" value="DKK"' in html
    assert state() == before


# --- changing the reporting currency --------------------------------------------------------


@pytest.fixture
def euro_books(admin, alice, stages_a):
    """Deals in three currencies closing this month, two admin rates (EUR reporting), a
    snapshot and a target taken in EUR."""
    today = timezone.localdate()
    services.exchange_rate_set(
        acting_user=admin,
        currency="DKK",
        rate=Decimal("0.134"),
        valid_from=today - timedelta(days=30),
    )
    services.exchange_rate_set(
        acting_user=admin,
        currency="SEK",
        rate=Decimal("0.0875"),
        valid_from=today - timedelta(days=10),
    )
    deals = [
        DealFactory(stage=stages_a[0], owner=alice, value=Decimal("10000"), currency="EUR"),
        DealFactory(stage=stages_a[1], owner=alice, value=Decimal("50000"), currency="DKK"),
        DealFactory(stage=stages_a[2], owner=alice, value=Decimal("20000"), currency="SEK"),
    ]
    for deal in deals:
        deal.expected_close_date = today
        deal.created_at = timezone.now() - timedelta(days=8)  # open at the week's start
        deal.save()
    services.forecast_snapshot_take(now=timezone.now())
    services.sales_target_set(
        acting_user=admin, user=alice, kind="month", start=today, amount=Decimal("13400")
    )
    return deals


def forecast_total(user) -> Decimal:
    today = timezone.localdate()
    forecast = forecast_for_user(
        user=user, filters=ForecastFilters(kind="month", count=1), today=today
    )
    return forecast.total.weighted_exact


def test_switching_to_dkk_keeps_every_figure_the_same_money(
    admin, euro_books, django_capture_on_commit_callbacks
):
    lines_before = dict(ForecastSnapshotLine.objects.values_list("deal_id", "weighted"))
    assert len(lines_before) == 3
    with django_capture_on_commit_callbacks(execute=True):
        organisation_update(
            acting_user=admin,
            name="Nordlys",
            reporting_currency="DKK",
            time_zone="Europe/Copenhagen",
            week_start=0,
        )

    assert organisation_get().reporting_currency == "DKK"
    # Independently: each deal's value in EUR at the admin's rates, then into DKK at 0.134.
    eur = {"EUR": Decimal(1), "DKK": Decimal("0.134"), "SEK": Decimal("0.0875")}
    expected = sum(
        d.value * eur[d.currency] * d.stage.probability / 100 / Decimal("0.134") for d in euro_books
    )
    assert abs(forecast_total(admin) - expected) < Decimal("0.01")
    rates = rates_on(timezone.localdate())
    assert rates["DKK"].rate == 1
    assert rates["EUR"].rate == Decimal("7.46268657")  # 1 / 0.134, to 8 places
    # Stored totals: the same money in DKK, converted at the rate of their day.
    for deal_id, weighted in ForecastSnapshotLine.objects.values_list("deal_id", "weighted"):
        assert abs(weighted - lines_before[deal_id] / Decimal("0.134")) <= Decimal("0.005")
    assert SalesTarget.objects.get().amount == Decimal("100000.00")  # 13,400 EUR
    row = Organisation.objects.get(pk=1)
    assert row.tier_a_threshold == (Decimal(100000) / Decimal("0.134")).quantize(Decimal("0.01"))


def test_rates_before_any_admin_rate_follow_the_standard_rates(
    admin, euro_books, django_capture_on_commit_callbacks
):
    long_ago = timezone.localdate() - timedelta(days=400)
    before = rates_on(long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        organisation_update(
            acting_user=admin,
            name="Nordlys",
            reporting_currency="SEK",
            time_zone="Europe/Copenhagen",
            week_start=0,
        )
    after = rates_on(long_ago)
    for currency in ("EUR", "DKK", "NOK", "USD", "GBP"):
        cross = before[currency].rate / before["SEK"].rate
        assert abs(after[currency].rate - cross) < Decimal("0.0000001")


def test_switching_there_and_back_restores_the_rates(
    admin, euro_books, django_capture_on_commit_callbacks
):
    before = list(
        ExchangeRate.objects.order_by("currency", "valid_from").values_list(
            "currency", "rate", "valid_from"
        )
    )
    for currency in ("NOK", "EUR"):
        with django_capture_on_commit_callbacks(execute=True):
            organisation_update(
                acting_user=admin,
                name="Nordlys",
                reporting_currency=currency,
                time_zone="Europe/Copenhagen",
                week_start=0,
            )
    today = timezone.localdate()
    assert rates_on(today)["DKK"].rate == Decimal("0.134")
    assert rates_on(today)["SEK"].rate == Decimal("0.0875")
    for currency, rate, day in before:
        assert abs(rates_on(day)[currency].rate - rate) < Decimal("0.00000002")


def test_the_forecast_page_shows_the_new_currency(
    client, admin, euro_books, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    data = {**VALID, "reporting_currency": "DKK"}
    post(client, URL, data, on_commit=django_capture_on_commit_callbacks)
    page = client.get(reverse("forecast")).content.decode()
    assert "DKK" in page
    assert "EUR 7.46268657" in page or "EUR 7.46" in page


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_rate_and_a_currency_switch_at_once_never_mix_units(admin):
    """Both lock the organisation row: the rate lands first and is re-based with the rest, or
    lands second and is refused (it was entered in EUR). Never a EUR number read as DKK."""
    from pipeline.services.deals import DealRuleError
    from tests.pipeline.services.test_concurrency import run_at_once

    today = timezone.localdate()
    dkk = rates_on(today)["DKK"].rate  # the install's rate, EUR per DKK
    sek = rates_on(today)["SEK"].rate
    results = run_at_once(
        [
            lambda: organisation_update(
                acting_user=admin,
                name="Nordlys",
                reporting_currency="DKK",
                time_zone="Europe/Copenhagen",
                week_start=0,
            ),
            lambda: services.exchange_rate_set(
                acting_user=admin,
                currency="SEK",
                rate=Decimal("0.09"),
                valid_from=today,
                reporting_currency="EUR",
            ),
        ]
    )
    assert isinstance(results[0], Organisation), results
    organisation_changed()
    rates_changed()
    now_sek = rates_on(today)["SEK"].rate
    if isinstance(results[1], DealRuleError):
        assert abs(now_sek - sek / dkk) < Decimal("0.00000001")
    else:
        assert isinstance(results[1], ExchangeRate), results
        assert abs(now_sek - Decimal("0.09") / dkk) < Decimal("0.00000001")
