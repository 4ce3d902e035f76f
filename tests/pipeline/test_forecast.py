"""The forecast, checked against an independent computation in plain Python."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from pipeline import services
from pipeline.forecasting import period_add, period_start, periods
from pipeline.models import (
    Deal,
    DealStatus,
    ForecastSnapshot,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
)
from pipeline.money import rates_on
from pipeline.selectors_forecast import ForecastFilters, forecast_for_user
from tests.conftest import requires_postgres

TODAY = date(2026, 11, 22)


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def dataset(alice, alex, bob, stages_a, stages_b, carol):
    """1,000 deals over two teams, four currencies, every status, close dates around today."""
    rng = random.Random(11)
    stages_b[0].probability, stages_b[1].probability = 35, 65
    for stage in stages_b:
        stage.save()
    owners_a = [alice, alex, bob, None]
    deals = []
    for i in range(1000):
        team_a = i % 3 != 0
        stage = rng.choice(stages_a if team_a else stages_b)
        status = rng.choices(["open", "won", "lost", "paused"], weights=[70, 15, 10, 5])[0]
        close = TODAY + timedelta(days=rng.randrange(-60, 250)) if rng.random() > 0.05 else None
        closed_at = None
        if status in ("won", "lost"):
            closed_day = TODAY - timedelta(days=rng.randrange(0, 200))
            closed_at = timezone.make_aware(datetime.combine(closed_day, time(rng.randrange(24))))
        deals.append(
            Deal(
                title=f"D{i}",
                pipeline=stage.pipeline,
                stage=stage,
                owner=rng.choice(owners_a) if team_a else carol,
                value=Decimal(rng.randrange(0, 10_000_000)) / 100,
                currency=rng.choice(["EUR", "DKK", "SEK", "NOK"]),
                status=status,
                expected_close_date=close,
                closed_at=closed_at,
                position=i if status == "open" else -i - 1,
            )
        )
    Deal.objects.bulk_create(deals)
    return Deal.objects.select_related("stage", "pipeline")


def expected(deals, *, kind, span, group, rates):
    """Plain Python: per (row, period) the exact weighted open value and won value."""
    first, end = span[0], period_add(span[-1], kind, 1)
    weighted, won = defaultdict(Decimal), defaultdict(Decimal)
    for d in deals:
        key = getattr(d, group + "_id")
        value = d.value * rates[d.currency].rate
        if d.status == "open" and d.expected_close_date and first <= d.expected_close_date < end:
            p = period_start(d.expected_close_date, kind)
            weighted[(key, p)] += value * d.stage.probability / Decimal(100)
        if d.status == "won":
            day = timezone.localtime(d.closed_at).date()
            if first <= day < end:
                won[(key, period_start(day, kind))] += value
    return weighted, won


@pytest.mark.parametrize("kind", ["week", "month", "quarter"])
def test_forecast_equals_an_independent_computation_to_the_cent(admin, dataset, kind):
    span = periods(TODAY, kind, 6)
    forecast = forecast_for_user(
        user=admin, filters=ForecastFilters(kind=kind, count=6, group="owner"), today=TODAY
    )
    weighted, won = expected(
        list(dataset), kind=kind, span=span, group="owner", rates=forecast.rates
    )
    seen = 0
    for row in forecast.rows:
        for period in span:
            cell = row.cells.get(period)
            assert (cell.weighted if cell else 0) == cents(
                weighted.get((row.key, period), Decimal(0))
            )
            assert (cell.won if cell else 0) == cents(won.get((row.key, period), Decimal(0)))
            seen += 1 if cell else 0
    assert seen > 10
    for period in span:
        exact = sum((v for (k, p), v in weighted.items() if p == period), Decimal(0))
        assert forecast.totals[period].weighted == cents(exact)


def test_each_role_sees_exactly_their_visible_totals(alice, bob, carol, admin, dataset, team_a):
    filters = ForecastFilters(kind="quarter", count=4, group="pipeline")

    def total(user):
        return forecast_for_user(user=user, filters=filters, today=TODAY).total.weighted_exact

    rates = rates_on(TODAY)
    span = periods(TODAY, "quarter", 4)
    all_deals = list(dataset)

    def independent(pred):
        w, _ = expected(
            [d for d in all_deals if pred(d)],
            kind="quarter",
            span=span,
            group="pipeline",
            rates=rates,
        )
        return sum(w.values(), Decimal(0))

    team_a_id = team_a.pk
    assert total(admin) == independent(lambda d: True)
    assert total(bob) == independent(lambda d: d.pipeline.team_id == team_a_id)
    assert total(alice) == independent(lambda d: d.pipeline.team_id == team_a_id)
    assert total(carol) == independent(lambda d: d.pipeline.team_id != team_a_id)
    team_a.own_deals_only = True
    team_a.save()
    alice_again = type(alice).objects.get(pk=alice.pk)  # a fresh request
    assert total(alice_again) == independent(
        lambda d: d.pipeline.team_id == team_a_id and d.owner_id in (alice.pk, None)
    )


def test_paused_lost_and_unscheduled_deals_stay_out(admin, alice, stages_a):
    from tests.factories import DealFactory

    DealFactory(stage=stages_a[1], owner=alice, value=1000, expected_close_date=TODAY)
    DealFactory(stage=stages_a[1], owner=alice, value=5000, expected_close_date=None)
    paused = DealFactory(stage=stages_a[1], owner=alice, value=7000, expected_close_date=TODAY)
    Deal.objects.filter(pk=paused.pk).update(status=DealStatus.PAUSED)
    forecast = forecast_for_user(
        user=admin, filters=ForecastFilters(kind="month", count=1), today=TODAY
    )
    assert forecast.total.weighted == Decimal("250.00")  # 1000 EUR at 25 %
    assert forecast.no_date.count == 1 and forecast.no_date.value == Decimal("5000.00")


def test_targets_and_coverage(admin, bob, alice, stages_a):
    from tests.factories import DealFactory

    DealFactory(stage=stages_a[2], owner=alice, value=10_000, expected_close_date=TODAY)
    services.sales_target_set(
        acting_user=bob, user=alice, kind="month", start=TODAY, amount=Decimal("20000")
    )
    forecast = forecast_for_user(
        user=bob, filters=ForecastFilters(kind="month", count=2), today=TODAY
    )
    row = next(r for r in forecast.rows if r.key == alice.pk)
    month = period_start(TODAY, "month")
    assert row.targets[month] == Decimal("20000")
    assert row.coverage(month) == Decimal("0.25")  # 5,000 weighted of 20,000


def test_a_salesperson_cannot_set_targets(alice, alex):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.sales_target_set(
            acting_user=alice, user=alex, kind="month", start=TODAY, amount=Decimal(1)
        )


# --- snapshots ------------------------------------------------------------------------------


def test_snapshot_lines_and_totals_match_the_deals_and_run_once(dataset):
    now = timezone.make_aware(datetime.combine(TODAY, time(9)))
    run = services.forecast_snapshot_take(now=now)
    assert run is not None and run.week == date(2026, 11, 16)
    open_deals = [d for d in dataset if d.status == "open"]
    assert ForecastSnapshotLine.objects.filter(run=run).count() == len(open_deals) == run.deal_count
    rates = rates_on(TODAY)
    line = ForecastSnapshotLine.objects.get(run=run, deal=open_deals[0])
    exact = open_deals[0].value * rates[open_deals[0].currency].rate
    assert line.value == cents(exact)
    assert line.weighted == cents(exact * open_deals[0].stage.probability / 100)
    by_month = defaultdict(Decimal)
    for line in ForecastSnapshotLine.objects.filter(run=run, expected_close_date__isnull=False):
        by_month[
            (line.owner_id, line.stage_id, period_start(line.expected_close_date, "month"))
        ] += line.weighted
    for total in ForecastSnapshot.objects.filter(run=run, period_kind="month"):
        assert total.weighted == by_month[(total.owner_id, total.stage_id, total.period_start)]
    before = ForecastSnapshot.objects.count(), ForecastSnapshotLine.objects.count()
    assert services.forecast_snapshot_take(now=now + timedelta(hours=3)) is None
    assert (ForecastSnapshot.objects.count(), ForecastSnapshotLine.objects.count()) == before


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_snapshots_at_once_write_one(alice, stages_a):
    from tests.factories import DealFactory
    from tests.pipeline.test_concurrency import run_at_once

    for _ in range(20):
        DealFactory(stage=stages_a[0], owner=alice, expected_close_date=TODAY)
    results = run_at_once([services.forecast_snapshot_take, services.forecast_snapshot_take])
    assert sum(1 for r in results if isinstance(r, ForecastSnapshotRun)) == 1, results
    assert sum(1 for r in results if r is None) == 1
    assert ForecastSnapshotRun.objects.count() == 1
    assert ForecastSnapshotLine.objects.count() == 20


def test_changes_since_last_week_explain_the_difference(admin, alice, stages_a):
    from pipeline.selectors_forecast import changes_since_snapshot
    from tests.factories import DealFactory

    month = TODAY.replace(day=1)
    moved = DealFactory(stage=stages_a[0], owner=alice, value=1000, expected_close_date=TODAY)
    slipped = DealFactory(stage=stages_a[1], owner=alice, value=1000, expected_close_date=TODAY)
    won = DealFactory(stage=stages_a[2], owner=alice, value=1000, expected_close_date=TODAY)
    last_week = timezone.make_aware(datetime.combine(TODAY - timedelta(days=7), time(1)))
    services.forecast_snapshot_take(now=last_week)
    # As the services save them: updated_at is set with every change.
    changed = {"updated_at": timezone.now()}
    Deal.objects.filter(pk=moved.pk).update(stage=stages_a[3], **changed)  # 10 % -> 75 %
    Deal.objects.filter(pk=slipped.pk).update(
        expected_close_date=TODAY + timedelta(days=20), **changed
    )
    Deal.objects.filter(pk=won.pk).update(
        status=DealStatus.WON, closed_at=timezone.now(), **changed
    )
    DealFactory(stage=stages_a[2], owner=alice, value=2000, expected_close_date=TODAY)
    run, changes = changes_since_snapshot(
        user=admin, filters=ForecastFilters(kind="month"), today=TODAY
    )
    this = changes[month]
    assert this["moved"].delta == Decimal("650.00")
    assert this["slipped"].delta == Decimal("-250.00")
    assert this["won"].delta == Decimal("-500.00")
    assert this["new"].delta == Decimal("1000.00")
    assert changes[period_add(month, "month", 1)]["slipped"].delta == Decimal("250.00")


@pytest.mark.parametrize("kind", ["week", "month", "quarter"])
def test_changes_since_last_week_equal_a_walk_over_the_deals(admin, alice, bob, stages_a, kind):
    """The grouped SQL gives, per period and reason, what a plain walk over every deal and
    its snapshot line gives, to the cent, over random changes in several currencies."""
    from pipeline.money import current_rates
    from pipeline.selectors_forecast import changes_since_snapshot
    from tests.factories import DealFactory

    rng = random.Random(7)
    deals = [
        DealFactory(
            stage=rng.choice(stages_a),
            owner=rng.choice([alice, bob]),
            value=Decimal(rng.randint(100, 90000)) + Decimal(rng.randint(0, 99)) / 100,
            currency=rng.choice(["EUR", "DKK", "SEK", "NOK"]),
            expected_close_date=(
                None if rng.random() < 0.1 else TODAY + timedelta(days=rng.randint(-40, 200))
            ),
        )
        for _ in range(150)
    ]
    last_week = timezone.make_aware(datetime.combine(TODAY - timedelta(days=7), time(1)))
    services.forecast_snapshot_take(now=last_week)
    # As the services save them: updated_at is set with every change.
    changed = {"updated_at": timezone.now()}
    for deal in deals:
        roll = rng.random()
        if roll < 0.15:
            Deal.objects.filter(pk=deal.pk).update(
                stage=rng.choice(stages_a), position=10**12 + deal.pk, **changed
            )
        elif roll < 0.3:
            Deal.objects.filter(pk=deal.pk).update(
                expected_close_date=TODAY + timedelta(days=rng.randint(-40, 200)), **changed
            )
        elif roll < 0.4:
            Deal.objects.filter(pk=deal.pk).update(
                value=deal.value + rng.randint(1, 5000), **changed
            )
        elif roll < 0.5:
            status = rng.choice([DealStatus.WON, DealStatus.LOST, DealStatus.PAUSED])
            Deal.objects.filter(pk=deal.pk).update(
                status=status, closed_at=timezone.now(), **changed
            )
        elif roll < 0.55:
            Deal.objects.filter(pk=deal.pk).delete()
    for _ in range(20):
        DealFactory(
            stage=rng.choice(stages_a),
            owner=alice,
            value=Decimal(rng.randint(100, 9000)),
            currency=rng.choice(["EUR", "DKK"]),
            expected_close_date=TODAY + timedelta(days=rng.randint(0, 120)),
        )

    run, changes = changes_since_snapshot(
        user=admin, filters=ForecastFilters(kind=kind), today=TODAY
    )

    rates = current_rates()
    lines = {line.deal_id: line for line in ForecastSnapshotLine.objects.filter(run=run)}
    expected: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0), 0]))

    def add(day, reason, delta, count=1):
        if day is not None:
            cell = expected[period_start(day, kind)][reason]
            cell[0] += delta
            cell[1] += count

    for deal in Deal.objects.select_related("stage"):
        live = deal.value * rates[deal.currency].rate
        weighted = live * deal.stage.probability / Decimal(100)
        line = lines.get(deal.pk)
        if line is None:
            if deal.status == DealStatus.OPEN and deal.created_at >= run.taken_at:
                add(deal.expected_close_date, "new", weighted)
            continue
        was = line.expected_close_date and period_start(line.expected_close_date, kind)
        now = deal.expected_close_date and period_start(deal.expected_close_date, kind)
        if deal.status in (DealStatus.WON, DealStatus.LOST, DealStatus.PAUSED):
            add(line.expected_close_date, deal.status, -line.weighted)
        elif was != now:
            add(line.expected_close_date, "slipped", -line.weighted)
            add(deal.expected_close_date, "slipped", weighted, 0)
        elif deal.stage_id != line.stage_id:
            add(deal.expected_close_date, "moved", weighted - line.weighted)
        elif live.quantize(Decimal("0.01"), ROUND_HALF_UP) != line.value:
            add(deal.expected_close_date, "value", weighted - line.weighted)

    got = {
        (period, reason): (change.delta, change.count)
        for period, reasons in changes.items()
        for reason, change in reasons.items()
    }
    want = {
        (period, reason): (delta.quantize(Decimal("0.01"), ROUND_HALF_UP), count)
        for period, reasons in expected.items()
        for reason, (delta, count) in reasons.items()
    }
    assert got == want
    assert {reason for _period, reason in got} >= {"new", "moved", "slipped", "won", "value"}


def test_a_new_exchange_rate_alone_is_not_a_change_of_value(admin, alice, stages_a):
    """A deal written since the snapshot (a note, a next step) whose currency's rate changed
    is not listed as "value changed": the comparison is at the snapshot's rates."""
    from pipeline.models import ExchangeRate
    from pipeline.money import rates_changed
    from pipeline.selectors_forecast import changes_since_snapshot
    from tests.factories import DealFactory

    deal = DealFactory(
        stage=stages_a[1], owner=alice, value=10000, currency="DKK", expected_close_date=TODAY
    )
    last_week = timezone.make_aware(datetime.combine(TODAY - timedelta(days=7), time(1)))
    services.forecast_snapshot_take(now=last_week)
    ExchangeRate.objects.create(currency="DKK", rate=Decimal("0.2"), valid_from=TODAY)
    rates_changed()
    Deal.objects.filter(pk=deal.pk).update(updated_at=timezone.now())  # written, not changed
    _run, changes = changes_since_snapshot(
        user=admin, filters=ForecastFilters(kind="month"), today=TODAY
    )
    assert not any("value" in reasons for reasons in changes.values())


def test_stage_calibration_suggests_from_what_closed(admin, alice, stages_a):
    from pipeline.models import StageChange
    from pipeline.selectors_forecast import stage_calibration
    from tests.factories import DealFactory

    for i in range(10):
        deal = DealFactory(stage=stages_a[1], owner=alice)
        StageChange.objects.create(deal=deal, from_stage=stages_a[0], to_stage=stages_a[1])
        Deal.objects.filter(pk=deal.pk).update(status="won" if i < 8 else "lost")
    rows = {c.stage.pk: c for c in stage_calibration(user=admin, pipeline=stages_a[0].pipeline)}
    qualified = rows[stages_a[1].pk]
    assert qualified.entered_closed == 10 and qualified.won == 8
    assert qualified.observed == Decimal(80)
    # (8 won x 100 + 25 % x 5) / (10 + 5) = 61.7 -> 60 %
    assert qualified.suggested == 60
    services.stage_probability_apply(acting_user=admin, stage=stages_a[1], probability=60)
    stages_a[1].refresh_from_db()
    assert stages_a[1].probability == 60
