"""Money on the analytics pages after a change of reporting currency or of an exchange rate:
labelled with the organisation's currency (never the settings' default), and never a figure
computed in the old unit, from the cache or otherwise, in this process or another."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from crm import organisation as organisation_module
from crm.services.organisation import organisation_update
from pipeline import money, services
from pipeline.models import LostReason, StageChange
from pipeline.money import money_key, money_version, rates_changed, rates_on
from tests.factories import DealFactory

PAGES = [
    "analytics-funnel",
    "analytics-time-in-stage",
    "analytics-reps",
    "analytics-losses",
    "analytics-velocity",
]


@pytest.fixture
def losses(admin, alice, stages_a):
    """Two lost deals: 1,000 EUR and 10,000 SEK, both from Proposal; an admin rate for SEK."""
    today = timezone.localdate()
    services.exchange_rate_set(
        acting_user=admin, currency="SEK", rate=Decimal("0.09"), valid_from=today
    )
    rates_changed()
    now = timezone.now()
    reason = LostReason.objects.create(name="Price")
    deals = []
    for value, currency in ((Decimal(1000), "EUR"), (Decimal(10000), "SEK")):
        deal = DealFactory(
            stage=stages_a[2],
            owner=alice,
            value=value,
            currency=currency,
            status="lost",
            lost_reason=reason,
            lost_from_stage=stages_a[2],
            created_at=now - timedelta(days=20),
            closed_at=now - timedelta(days=2),
        )
        StageChange.objects.create(deal=deal, to_stage=stages_a[2], at=now - timedelta(days=20))
        deals.append(deal)
    return deals


def switch_to(admin, currency: str, capture) -> None:
    with capture(execute=True):
        organisation_update(
            acting_user=admin,
            name="Nordlys",
            reporting_currency=currency,
            time_zone="Europe/Copenhagen",
            week_start=0,
        )


def lost_value(client) -> Decimal:
    response = client.get(reverse("analytics-losses"))
    assert response.status_code == 200
    return response.context["analysis"].total.value


def expected_in(currency_rates, deals) -> Decimal:
    return money.round_cents(sum(d.value * currency_rates[d.currency].rate for d in deals))


@pytest.mark.parametrize("name", PAGES)
def test_pages_label_values_with_the_organisation_currency(
    client, admin, losses, name, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    assert "Values in EUR" in client.get(reverse(name)).content.decode()
    switch_to(admin, "DKK", django_capture_on_commit_callbacks)
    page = client.get(reverse(name)).content.decode()
    assert "Values in DKK" in page and "Values in EUR" not in page


def test_exports_name_the_organisation_currency(
    client, admin, losses, django_capture_on_commit_callbacks
):
    switch_to(admin, "NOK", django_capture_on_commit_callbacks)
    client.force_login(admin)
    header = client.get(reverse("analytics-losses"), {"export": "csv"}).content.decode()
    assert "Lost value (NOK)" in header.splitlines()[0]


def test_velocity_chart_is_in_the_organisation_currency(
    client, admin, alice, stages_a, django_capture_on_commit_callbacks
):
    now = timezone.now()
    for status in ("won", "open"):
        deal = DealFactory(
            stage=stages_a[1],
            owner=alice,
            value=Decimal(5000),
            status=status,
            created_at=now - timedelta(days=40),
            closed_at=now - timedelta(days=3) if status == "won" else None,
        )
        StageChange.objects.create(deal=deal, to_stage=stages_a[1], at=now - timedelta(days=40))
    switch_to(admin, "DKK", django_capture_on_commit_callbacks)
    client.force_login(admin)
    chart = client.get(reverse("analytics-velocity")).content.decode().split("<svg", 1)[1]
    assert " DKK" in chart and " EUR" not in chart


def test_loss_figures_follow_a_currency_switch_at_once(
    client, admin, losses, django_capture_on_commit_callbacks
):
    """The figures cached before the switch are never shown under the new currency."""
    client.force_login(admin)
    before = lost_value(client)
    assert before == Decimal("1900.00")  # 1,000 EUR + 10,000 SEK at 0.09
    assert lost_value(client) == before  # now served from the cache
    switch_to(admin, "DKK", django_capture_on_commit_callbacks)
    after = lost_value(client)
    rates = rates_on(timezone.localdate())
    assert rates["DKK"].rate == 1
    assert after == expected_in(rates, losses)
    assert abs(after - before / Decimal("0.1341")) < Decimal("0.05")  # the same money
    page = client.get(reverse("analytics-losses")).content.decode()
    # 14,168.53 shown whole, rounded as CLDR rounds (half to even): "DKK 14,169" in en-gb.
    assert "DKK\xa014,169" in page and "DKK\xa01,900" not in page


def test_loss_figures_follow_a_new_exchange_rate_at_once(
    client, admin, losses, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    assert lost_value(client) == Decimal("1900.00")
    with django_capture_on_commit_callbacks(execute=True):
        services.exchange_rate_set(
            acting_user=admin,
            currency="SEK",
            rate=Decimal("0.1"),
            valid_from=timezone.localdate(),
        )
    assert lost_value(client) == Decimal("2000.00")


def test_another_process_shows_the_new_currency_with_its_own_figures(
    client, admin, losses, django_capture_on_commit_callbacks
):
    """A second web process holds the organisation row and the rates from before the switch
    in its memory: the money version, in the shared cache, tells it to read both again."""
    client.force_login(admin)
    assert lost_value(client) == Decimal("1900.00")
    stale_row = organisation_module._memo._entry
    stale_rates = money._rates._entry
    assert stale_row is not None and stale_rates is not None
    switch_to(admin, "DKK", django_capture_on_commit_callbacks)
    # Back to the other process's memory: the old row and old rates, each under its old token.
    organisation_module._memo._entry = stale_row
    money._rates._entry = stale_rates
    response = client.get(reverse("analytics-losses"))
    assert response.context["analysis"].total.value == expected_in(
        rates_on(timezone.localdate(), reporting="DKK"), losses
    )
    assert "Values in DKK" in response.content.decode()


def test_the_money_key_moves_on_with_every_change(db, django_capture_on_commit_callbacks):
    first = money_key()
    assert money_key() == first
    with django_capture_on_commit_callbacks(execute=True):
        rates_changed()
        assert money_key() == first  # not before the change is committed
    second = money_key()
    assert second != first
    cache.delete("version:money")  # evicted: a new token, never an old one back
    assert money_version() not in (first.split(":")[1], second.split(":")[1])
