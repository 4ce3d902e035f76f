"""The forecast, checked against an independent computation in plain Python."""

from __future__ import annotations

import random
import zoneinfo
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from unittest import mock

import pytest
from django.db.models import Sum
from django.utils import timezone

from pipeline import services
from pipeline.forecasting import period_add, period_start, periods
from pipeline.models import (
    Deal,
    DealStatus,
    ForecastSnapshot,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    LostReason,
)
from pipeline.money import rates_on
from pipeline.selectors.forecast import ForecastFilters, forecast_for_user
from tests.conftest import requires_postgres

TODAY = date(2026, 11, 22)
# When the deals of most tests were created: long before any snapshot they are in (a snapshot
# holds the deals open at its week's start).
LONG_AGO = timezone.make_aware(datetime(2025, 1, 6, 9))


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
                created_at=LONG_AGO,
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
    # The deals open at the week's start: open now, or won or lost since.
    week_start = timezone.make_aware(datetime(2026, 11, 16))
    assert run.taken_at == week_start
    open_deals = [
        d for d in dataset if d.status == "open" or (d.closed_at and d.closed_at > week_start)
    ]
    assert any(d.status != "open" for d in open_deals)
    assert ForecastSnapshotLine.objects.filter(run=run).count() == len(open_deals) == run.deal_count
    rates = rates_on(run.week)
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
    from tests.pipeline.services.test_concurrency import run_at_once

    for _ in range(20):
        DealFactory(stage=stages_a[0], owner=alice, expected_close_date=TODAY, created_at=LONG_AGO)
    results = run_at_once([services.forecast_snapshot_take, services.forecast_snapshot_take])
    assert sum(1 for r in results if isinstance(r, ForecastSnapshotRun)) == 1, results
    assert sum(1 for r in results if r is None) == 1
    assert ForecastSnapshotRun.objects.count() == 1
    assert ForecastSnapshotLine.objects.count() == 20


def test_changes_since_last_week_explain_the_difference(admin, alice, stages_a):
    from pipeline.selectors.forecast import changes_since_snapshot
    from tests.factories import DealFactory

    month = TODAY.replace(day=1)
    old = {"owner": alice, "value": 1000, "expected_close_date": TODAY, "created_at": LONG_AGO}
    moved = DealFactory(stage=stages_a[0], **old)
    slipped = DealFactory(stage=stages_a[1], **old)
    won = DealFactory(stage=stages_a[2], **old)
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
    from pipeline.selectors.forecast import changes_since_snapshot
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
            created_at=LONG_AGO,
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
    from pipeline.selectors.forecast import changes_since_snapshot
    from tests.factories import DealFactory

    deal = DealFactory(
        stage=stages_a[1],
        owner=alice,
        value=10000,
        currency="DKK",
        expected_close_date=TODAY,
        created_at=LONG_AGO,
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
    from pipeline.selectors.forecast import stage_calibration
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


# --- the week's snapshot is the pipeline as at the week's start -----------------------------


@contextmanager
def clock(moment: datetime):
    """The services (and auto_now) see `moment` as now."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def local(zone: str, *args) -> datetime:
    return datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))


def cph(*args) -> datetime:
    return local("Europe/Copenhagen", *args)


def _lines(run) -> dict[int, tuple]:
    return {
        line.deal_id: (line.stage_id, line.value, line.weighted, line.expected_close_date)
        for line in ForecastSnapshotLine.objects.filter(run=run)
    }


@pytest.fixture
def a_week(bob, alice, stages_a):
    """Deals made through the services before the week of Monday 16 November 2026
    (Copenhagen), then a week of changes: moves on Tuesday and Wednesday, a win, a value and
    close date edit, a new deal, a pause, a resume and a reopening."""
    reason = LostReason.objects.create(name="Price")
    lead, qualified, proposal, negotiation = stages_a

    def create(title, stage, value=1000, close=date(2026, 11, 25)):
        return services.deal_create(
            acting_user=bob,
            stage=stage,
            title=title,
            value=Decimal(value),
            owner=alice,
            expected_close_date=close,
        )

    def fresh(deal):
        return Deal.objects.get(pk=deal.pk)

    deals = {}
    with clock(cph(2026, 11, 10, 9)):
        for title, stage in [
            ("moved", lead),
            ("moved twice", lead),
            ("won", proposal),
            ("lost before", qualified),
            ("revalued", qualified),
            ("paused mid-week", qualified),
            ("resumed", proposal),
            ("reopened", negotiation),
            ("untouched", negotiation),
        ]:
            deals[title] = create(title, stage)
    with clock(cph(2026, 11, 12, 11)):
        services.deal_move(
            acting_user=bob, deal=deals["moved twice"], stage_id=qualified.pk, version=None
        )
        services.deal_mark_lost(
            acting_user=bob, deal=fresh(deals["lost before"]), version=None, reason=reason
        )
        services.deal_pause(
            acting_user=bob,
            deal=fresh(deals["resumed"]),
            version=None,
            until=date(2026, 11, 17),
            reason="Budget",
        )
        services.deal_mark_lost(
            acting_user=bob, deal=fresh(deals["reopened"]), version=None, reason=reason
        )
    # Sunday 23:30 in Copenhagen: still last week.
    with clock(cph(2026, 11, 15, 23, 30)):
        services.deal_move(
            acting_user=bob, deal=fresh(deals["moved twice"]), stage_id=proposal.pk, version=None
        )
    with clock(cph(2026, 11, 17, 10)):  # Tuesday
        services.deal_move(acting_user=bob, deal=deals["moved"], stage_id=proposal.pk, version=None)
        services.deal_mark_won(acting_user=bob, deal=fresh(deals["won"]), version=None)
        revalued = fresh(deals["revalued"])
        services.deal_update(
            acting_user=bob,
            deal=revalued,
            version=revalued.version,
            data={"value": Decimal(5000), "expected_close_date": date(2027, 1, 20)},
        )
        services.deal_resume(acting_user=bob, deal=fresh(deals["resumed"]))
        services.deal_reopen(acting_user=bob, deal=fresh(deals["reopened"]), version=None)
    with clock(cph(2026, 11, 18, 15)):  # Wednesday
        services.deal_move(
            acting_user=bob, deal=fresh(deals["moved"]), stage_id=negotiation.pk, version=None
        )
        services.deal_move(
            acting_user=bob,
            deal=fresh(deals["moved twice"]),
            stage_id=negotiation.pk,
            version=None,
        )
        services.deal_pause(
            acting_user=bob,
            deal=fresh(deals["paused mid-week"]),
            version=None,
            until=date(2026, 12, 20),
            reason="Waiting",
        )
        deals["new"] = create("new", proposal, value=9000)
    return deals


def test_a_snapshot_taken_on_friday_is_the_pipeline_of_monday_00_00(a_week, stages_a):
    lead, qualified, proposal, negotiation = stages_a
    friday = cph(2026, 11, 20, 10)

    run = services.forecast_snapshot_take(now=friday)

    assert run.week == date(2026, 11, 16)
    assert run.taken_at == cph(2026, 11, 16)
    monday_close = date(2026, 11, 25)

    def line(stage, value=Decimal("1000.00")):
        return (stage.pk, value, cents(value * stage.probability / 100), monday_close)

    # As they stood at Monday 00:00: "won" still open in Proposal, "moved" still in Lead in,
    # "moved twice" where Sunday night's move put it, "revalued" at its old value and close
    # date, "paused mid-week" open; "lost before" lost, "resumed" paused, "reopened" lost;
    # "new" not yet created.
    assert _lines(run) == {
        a_week["moved"].pk: line(lead),
        a_week["moved twice"].pk: line(proposal),
        a_week["won"].pk: line(proposal),
        a_week["revalued"].pk: line(qualified),
        a_week["paused mid-week"].pk: line(qualified),
        a_week["untouched"].pk: line(negotiation),
    }
    assert run.deal_count == 6
    # The totals are Monday's too: per stage, the count and the weighted value.
    by_stage = {
        row["stage_id"]: (row["n"], row["w"])
        for row in ForecastSnapshot.objects.filter(run=run, period_kind="month")
        .values("stage_id")
        .annotate(n=Sum("count"), w=Sum("weighted"))
    }
    assert by_stage == {
        lead.pk: (1, Decimal("100.00")),
        qualified.pk: (2, Decimal("500.00")),
        proposal.pk: (2, Decimal("1000.00")),
        negotiation.pk: (1, Decimal("750.00")),
    }
    # A second poll that week writes nothing.
    before = ForecastSnapshotLine.objects.count(), ForecastSnapshot.objects.count()
    assert services.forecast_snapshot_take(now=friday + timedelta(hours=5)) is None
    assert (ForecastSnapshotLine.objects.count(), ForecastSnapshot.objects.count()) == before


def test_the_weeks_changes_survive_the_late_snapshot(a_week, admin, stages_a):
    """Taken late, the week's snapshot still tells what changed since the week began."""
    from pipeline.selectors.forecast import changes_since_snapshot

    services.forecast_snapshot_take(now=cph(2026, 11, 20, 10))
    with clock(cph(2026, 11, 20, 10, 5)):
        run, changes = changes_since_snapshot(
            user=admin, filters=ForecastFilters(kind="month"), today=date(2026, 11, 20)
        )
    assert run.taken_at == cph(2026, 11, 16)
    november, january = date(2026, 11, 1), date(2027, 1, 1)
    assert changes[november]["moved"].count == 2  # "moved" and "moved twice"
    assert changes[november]["won"].count == 1
    assert changes[november]["paused"].count == 1
    assert changes[november]["new"].count == 1
    assert changes[november]["slipped"].count == 1
    assert changes[january]["slipped"].delta == Decimal("1250.00")  # 5,000 at 25 %


def test_a_snapshot_on_time_is_the_pipeline_as_it_stands(bob, alice, stages_a):
    """Run in the week's first minutes with nothing changed since, the snapshot is the
    pipeline as it stands; a move in those minutes is not in it."""
    with clock(cph(2026, 11, 10, 9)):
        deals = [
            services.deal_create(
                acting_user=bob, stage=stage, title=stage.name, value=Decimal(800), owner=alice
            )
            for stage in stages_a
        ]
    with clock(cph(2026, 11, 16, 0, 5)):
        services.deal_move(acting_user=bob, deal=deals[0], stage_id=stages_a[3].pk, version=None)

    run = services.forecast_snapshot_take(now=cph(2026, 11, 16, 0, 15))

    assert {pk: stage for pk, (stage, *_rest) in _lines(run).items()} == {
        deal.pk: stage.pk for deal, stage in zip(deals, stages_a, strict=True)
    }


@pytest.mark.parametrize(
    ("zone", "week_start", "first_day"),
    [
        ("Pacific/Auckland", 6, date(2026, 11, 15)),  # Sunday 00:00 at UTC+13
        ("America/Los_Angeles", 0, date(2026, 11, 16)),  # Monday 00:00 at UTC-8
    ],
)
def test_the_week_starts_in_the_organisations_zone_and_on_its_week_start(
    bob, alice, stages_a, zone, week_start, first_day
):
    from crm.models import Organisation
    from crm.organisation import organisation_changed

    Organisation.objects.filter(pk=1).update(time_zone=zone, week_start=week_start)
    organisation_changed()
    start = datetime.combine(first_day, time.min, tzinfo=zoneinfo.ZoneInfo(zone))
    with clock(start - timedelta(days=5)):
        before = services.deal_create(
            acting_user=bob, stage=stages_a[0], title="Before", owner=alice
        )
        after = services.deal_create(acting_user=bob, stage=stages_a[0], title="After", owner=alice)
    with clock(start - timedelta(minutes=30)):  # the evening before, there
        services.deal_move(acting_user=bob, deal=before, stage_id=stages_a[1].pk, version=None)
    with clock(start + timedelta(minutes=30)):  # the week's first hour, there
        services.deal_move(acting_user=bob, deal=after, stage_id=stages_a[1].pk, version=None)
    with clock(start + timedelta(hours=1)):
        created = services.deal_create(acting_user=bob, stage=stages_a[0], title="New", owner=alice)

    run = services.forecast_snapshot_take(now=start + timedelta(days=4))

    assert run.week == first_day
    assert run.taken_at == start
    stages = {pk: stage for pk, (stage, *_rest) in _lines(run).items()}
    assert stages == {before.pk: stages_a[1].pk, after.pk: stages_a[0].pk}
    assert created.pk not in stages


def test_the_deal_services_keep_the_fields_as_they_were_before_each_change(
    bob, alice, alex, stages_a
):
    """What a late snapshot rebuilds from: a revision per change of value, currency, close
    date, owner or status, holding the fields from before it; nothing for a move (the stage
    history has it), an edit of other fields, or an edit that changes nothing."""
    from pipeline.models import DealRevision

    reason = LostReason.objects.create(name="Price")
    deal = services.deal_create(
        acting_user=bob,
        stage=stages_a[0],
        title="Kept",
        value=Decimal(100),
        owner=alice,
        expected_close_date=TODAY,
    )
    assert not DealRevision.objects.exists()

    def fresh():
        return Deal.objects.get(pk=deal.pk)

    def edit(**data):
        current = fresh()
        services.deal_update(acting_user=bob, deal=current, version=current.version, data=data)

    services.deal_move(acting_user=bob, deal=deal, stage_id=stages_a[1].pk, version=None)
    edit(title="Renamed", value=Decimal(100))
    assert not DealRevision.objects.exists()
    edit(value=Decimal(300), currency="DKK")
    edit(expected_close_date=TODAY + timedelta(days=30))
    edit(owner=alex)
    services.deal_mark_lost(acting_user=bob, deal=fresh(), version=None, reason=reason)
    services.deal_reopen(acting_user=bob, deal=fresh(), version=None)
    services.deal_pause(
        acting_user=bob,
        deal=fresh(),
        version=None,
        until=timezone.localdate() + timedelta(2),
        reason="x",
    )
    services.deal_resume(acting_user=bob, deal=fresh())
    services.deal_mark_won(acting_user=bob, deal=fresh(), version=None)

    rows = list(
        DealRevision.objects.filter(deal=deal)
        .order_by("at", "pk")
        .values_list("value", "currency", "expected_close_date", "owner_id", "status")
    )
    later = TODAY + timedelta(days=30)
    assert rows == [
        (Decimal(100), "EUR", TODAY, alice.pk, "open"),
        (Decimal(300), "DKK", TODAY, alice.pk, "open"),
        (Decimal(300), "DKK", later, alice.pk, "open"),
        (Decimal(300), "DKK", later, alex.pk, "open"),
        (Decimal(300), "DKK", later, alex.pk, "lost"),
        (Decimal(300), "DKK", later, alex.pk, "open"),
        (Decimal(300), "DKK", later, alex.pk, "paused"),
        (Decimal(300), "DKK", later, alex.pk, "open"),
    ]


def test_a_refused_change_keeps_no_revision(bob, alice, stages_a):
    from pipeline.models import DealRevision
    from pipeline.services import DealConflict, DealRuleError

    deal = services.deal_create(acting_user=bob, stage=stages_a[0], title="Kept", owner=alice)
    with pytest.raises(DealConflict):
        services.deal_update(
            acting_user=bob, deal=deal, version=deal.version + 5, data={"value": Decimal(9)}
        )
    services.deal_mark_won(acting_user=bob, deal=deal, version=None)
    with pytest.raises(DealRuleError):
        services.deal_mark_won(acting_user=bob, deal=deal, version=None)
    assert DealRevision.objects.count() == 1  # the win
