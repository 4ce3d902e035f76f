"""Each analytics figure against an independent computation in plain Python over the same rows,
on a generated history with known answers: deals that skip stages, move back, are reopened
after a loss, change owner midway."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Role
from crm.models import Company
from pipeline.models import Deal, DealStatus, LostReason, ProductArea, StageChange
from pipeline.money import current_rates, round_cents
from pipeline.selectors.analytics import (
    BUCKETS,
    AnalyticsFilters,
    funnel,
    loss_analysis,
    percentile,
    reps_by_stage,
    time_in_stage,
    velocity,
    velocity_trend,
)
from pipeline.services.analytics import analytics_refresh
from tests.factories import CompanyFactory, DealFactory, MembershipFactory, UserFactory

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # UTC: day arithmetic free of DST
PERIOD = AnalyticsFilters(start=date(2025, 1, 1), end=date(2026, 12, 31))


def at(days: float) -> datetime:
    """`days` before NOW."""
    return NOW - timedelta(days=days)


def make_deal(stages, path, *, owner, status="open", closed=None, reason=None, **extra):
    """A deal whose history is `path`: [(stage index, days ago), ...], the first its creation."""
    first = path[0]
    deal = DealFactory(
        stage=stages[path[-1][0]],
        owner=owner,
        status=status,
        created_at=at(first[1]),
        closed_at=at(closed) if closed is not None else None,
        lost_reason=reason if status == DealStatus.LOST else None,
        lost_from_stage=stages[path[-1][0]] if status == DealStatus.LOST else None,
        **extra,
    )
    previous = None
    for index, days in path:
        StageChange.objects.create(
            deal=deal, from_stage=previous, to_stage=stages[index], user=owner, at=at(days)
        )
        previous = stages[index]
    return deal


@pytest.fixture
def history(alice, alex, bob, stages_a):
    """A hand-made history with known answers (comments give them)."""
    price = LostReason.objects.create(name="Price")
    timing = LostReason.objects.create(name="Timing")
    s = stages_a
    deals = {
        # straight through and won: entered 0,1,2,3; moved on from all
        "won": make_deal(
            s, [(0, 100), (1, 90), (2, 80), (3, 70)], owner=alice, status="won", closed=60
        ),
        # skips stage 1; lost from stage 2 with reason Price
        "skip": make_deal(
            s, [(0, 50), (2, 40)], owner=alice, status="lost", closed=30, reason=price
        ),
        # moves back 2 -> 1, sits there open: stage 1 entered twice (one deal), two stays
        "back": make_deal(s, [(0, 60), (1, 50), (2, 45), (1, 20)], owner=alex),
        # lost from stage 1, then reopened (open now, no StageChange on reopen)
        "reopened": make_deal(s, [(0, 40), (1, 35)], owner=alex),
        # changed owner midway: counts for bob, its owner now
        "handed": make_deal(
            s, [(0, 30), (1, 25)], owner=bob, status="lost", closed=10, reason=timing
        ),
    }
    analytics_refresh()  # the pages refresh the stage visits before counting
    return deals


def test_funnel_known_answers(history, bob, pipeline_a, stages_a):
    rows = funnel(user=bob, filters=PERIOD, pipeline=pipeline_a)
    got = {r.stage.name: (r.entered, r.moved_on, r.lost, r.won, r.still_here) for r in rows}
    assert got["Lead in"] == (5, 5, 0, 1, 0)  # every deal entered it and went further
    # won moved on; back moved on (reached 2) although it is back here; reopened and handed not
    assert got["Qualified"] == (4, 2, 1, 1, 2)
    assert got["Proposal"] == (3, 1, 1, 1, 0)  # skip lost here; back moved back (not on)
    assert got["Negotiation"] == (1, 1, 0, 1, 0)
    biggest = [r.stage.name for r in rows if r.is_biggest_drop]
    assert biggest == ["Proposal"]  # 1 of 3 moved on: the lowest conversion


def test_time_in_stage_known_answers(history, bob, pipeline_a, stages_a):
    rows = {
        r.stage.name: r
        for r in time_in_stage(user=bob, filters=PERIOD, pipeline=pipeline_a, now=NOW)
    }
    # Qualified stays: won 10, back 5 and 20 (open, to now), reopened 35 (open), handed 15
    qualified = rows["Qualified"]
    assert qualified.stays == 5 and qualified.open_stays == 2
    assert qualified.median == pytest.approx(15.0)
    assert qualified.p80 == pytest.approx(percentile([10, 5, 20, 35, 15], 0.8))
    # Proposal stays: won 10, skip 10 (to its loss), back 25
    assert rows["Proposal"].median == pytest.approx(10.0)
    assert sum(rows["Proposal"].buckets) == 3


def test_reps_matrix_counts_for_owner_now(history, bob, alice, alex, pipeline_a):
    matrix = reps_by_stage(
        user=bob, filters=PERIOD, pipeline=pipeline_a, now=NOW, unassigned="Unassigned"
    )
    rows = {r.label: r for r in matrix.rows}
    assert set(rows) == {str(alice), str(alex), str(bob)}
    assert rows[str(bob)].lost == 1 and rows[str(bob)].cells[1].entered == 1
    assert rows[str(alice)].won == 1 and rows[str(alice)].lost == 1
    assert rows[str(alice)].win_rate == Decimal("0.5")
    assert rows[str(alice)].cycle_days == pytest.approx(40.0)
    assert rows[str(alex)].cells[1].median_days == pytest.approx(percentile([5, 20, 35], 0.5))


def test_reopened_deal_is_not_lost(history, bob):
    analysis = loss_analysis(user=bob, filters=PERIOD, no_reason="-")
    assert analysis.total.count == 2
    assert {analysis.reasons[r] for r in analysis.by_reason} == {"Price", "Timing"}
    # days from creation to loss: skip 20, handed 20
    assert analysis.total.days == pytest.approx(20.0)


# --- generated history, checked against plain Python ---------------------------------------


@pytest.fixture
def generated(team_a, alice, alex, bob, stages_a):
    rng = random.Random(6)
    reps = [alice, alex, bob]
    for i in range(3):
        user = UserFactory(username=f"rep{i}")
        MembershipFactory(user=user, team=team_a, role=Role.SALESPERSON)
        reps.append(user)
    reasons = [LostReason.objects.create(name=n) for n in ("Price", "Timing", "Competitor")]
    areas = [ProductArea.objects.create(name=n) for n in ("Fleet", "Warehouse")]
    companies = [CompanyFactory(team=team_a, tier=t) for t in "ABC"]
    for _ in range(70):
        days = rng.randint(30, 400)
        path = [(0, days)]
        index = 0
        while rng.random() < 0.7 and days > 2:
            step = rng.choice([1, 1, 2, -1]) if index else rng.choice([1, 2])
            index = max(0, min(3, index + step))
            days -= rng.uniform(0.5, days / 2)
            path.append((index, days))
        status = rng.choice(["open", "won", "lost", "lost", "paused"])
        closed = max(0.1, days - rng.uniform(0.1, days)) if status in ("won", "lost") else None
        make_deal(
            stages_a,
            path,
            owner=rng.choice(reps + [None]),
            status=status,
            closed=closed,
            reason=rng.choice(reasons + [None]),
            value=Decimal(rng.randint(1, 500) * 100),
            currency=rng.choice(["EUR", "DKK", "SEK"]),
            company=rng.choice(companies),
            product_area=rng.choice(areas + [None]),
        )
    analytics_refresh()
    return reps


def _rows(pipeline):
    deals = {d.pk: d for d in Deal.objects.filter(pipeline=pipeline)}
    changes = sorted(
        StageChange.objects.filter(deal__pipeline=pipeline), key=lambda c: (c.deal_id, c.at, c.pk)
    )
    by_deal: dict = {}
    for c in changes:
        by_deal.setdefault(c.deal_id, []).append(c)
    return deals, by_deal


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _in_period(deal, filters):
    """The cohort, as the pages define it: created in the period, or (basis "active") created
    before its end and not closed before its start."""
    start, end = _start(filters.start), _start(filters.end + timedelta(days=1))
    if filters.basis == "active":
        closed = deal.closed_at if deal.status in ("won", "lost") else None
        return deal.created_at < end and (closed is None or closed >= start)
    return start <= deal.created_at < end


def _narrowed(deal, filters, tiers):
    """The narrowing filters of `filters` on a deal (pipeline and team aside)."""
    if filters.unassigned and deal.owner_id is not None:
        return False
    if filters.owner_id and deal.owner_id != filters.owner_id:
        return False
    if filters.tier and tiers.get(deal.company_id) != filters.tier:
        return False
    return not (filters.product_area_id and deal.product_area_id != filters.product_area_id)


def _whole_days(seconds: float) -> int:
    return max(0, int(seconds)) // 86400


def _expected_funnel(pipeline, stages, filters, key=lambda deal: 0):
    """{key: {stage id: [entered, moved on, lost, won, still here]}}"""
    deals, by_deal = _rows(pipeline)
    tiers = dict(Company.objects.values_list("pk", "tier"))
    pos = {s.pk: s.position for s in stages}
    results: dict = {}
    for deal_id, changes in by_deal.items():
        deal = deals[deal_id]
        if not _in_period(deal, filters) or not _narrowed(deal, filters, tiers):
            continue
        result = results.setdefault(key(deal), {s.pk: [0, 0, 0, 0, 0] for s in stages})
        for stage in stages:
            firsts = [i for i, c in enumerate(changes) if c.to_stage_id == stage.pk]
            if not firsts:
                continue
            after = changes[firsts[0] + 1 :]
            row = result[stage.pk]
            row[0] += 1
            row[1] += deal.status == "won" or any(pos[c.to_stage_id] > pos[stage.pk] for c in after)
            row[2] += deal.status == "lost" and deal.lost_from_stage_id == stage.pk
            row[3] += deal.status == "won"
            row[4] += deal.status in ("open", "paused") and deal.stage_id == stage.pk
    return results


def _expected_stays(pipeline, filters, key):
    """{key: [whole days of each stay]}: the pages count a stay's whole days."""
    deals, by_deal = _rows(pipeline)
    tiers = dict(Company.objects.values_list("pk", "tier"))
    stays: dict = {}
    for deal_id, changes in by_deal.items():
        deal = deals[deal_id]
        if not _in_period(deal, filters) or not _narrowed(deal, filters, tiers):
            continue
        for i, c in enumerate(changes):
            if i + 1 < len(changes):
                end = changes[i + 1].at
            elif deal.status in ("won", "lost"):
                end = deal.closed_at
            else:
                end = NOW
            stays.setdefault(key(deal, c), []).append(_whole_days((end - c.at).total_seconds()))
    return stays


@pytest.mark.parametrize(
    "filters",
    [PERIOD, AnalyticsFilters(start=date(2025, 9, 1), end=date(2026, 3, 31))],
)
def test_funnel_matches_plain_python(generated, bob, pipeline_a, stages_a, filters):
    expected = _expected_funnel(pipeline_a, stages_a, filters)[0]
    rows = funnel(user=bob, filters=filters, pipeline=pipeline_a)
    got = {r.stage.pk: [r.entered, r.moved_on, r.lost, r.won, r.still_here] for r in rows}
    assert got == expected
    assert any(row[0] for row in expected.values())


def test_time_in_stage_matches_plain_python(generated, bob, pipeline_a, stages_a):
    stays = _expected_stays(pipeline_a, PERIOD, lambda d, c: c.to_stage_id)
    rows = time_in_stage(user=bob, filters=PERIOD, pipeline=pipeline_a, now=NOW)
    for row in rows:
        values = stays.get(row.stage.pk, [])
        assert row.stays == len(values)
        assert sum(row.buckets) == len(values)
        assert row.median == percentile(values, 0.5)
        assert row.p80 == pytest.approx(percentile(values, 0.8))


def test_reps_matrix_matches_plain_python(generated, bob, pipeline_a, stages_a):
    deals, by_deal = _rows(pipeline_a)
    stays = _expected_stays(pipeline_a, PERIOD, lambda d, c: (d.owner_id, c.to_stage_id))
    matrix = reps_by_stage(user=bob, filters=PERIOD, pipeline=pipeline_a, now=NOW, unassigned="-")
    rates = current_rates()
    for row in matrix.rows:
        mine = [d for d in deals.values() if d.owner_id == row.owner_id]
        won = [d for d in mine if d.status == "won"]
        assert row.won == len(won)
        assert row.lost == sum(d.status == "lost" for d in mine)
        if won:
            value = sum(d.value * rates[d.currency].rate for d in won) / len(won)
            assert row.average_won == round_cents(value)
            cycle = sum((d.closed_at - d.created_at).total_seconds() for d in won) / len(won)
            assert row.cycle_days == pytest.approx(cycle / 86400)
        for cell in row.cells:
            entered = [
                d
                for d in mine
                if any(c.to_stage_id == cell.stage.pk for c in by_deal.get(d.pk, []))
            ]
            assert cell.entered == len(entered)
            values = stays.get((row.owner_id, cell.stage.pk), [])
            expected = percentile(values, 0.5)
            assert cell.median_days == (pytest.approx(expected) if values else None)
    assert sum(r.won for r in matrix.rows) == matrix.team.won


PERIODS = [
    (date(2025, 9, 15), date(2026, 3, 10)),  # edges inside months, whole months between
    (date(2026, 2, 1), date(2026, 4, 30)),  # whole months only
    (date(2026, 3, 5), date(2026, 3, 20)),  # inside one month
    (date(2025, 6, 1), date(2026, 6, 15)),  # everything, to today
]


def _narrowings(alice):
    area = ProductArea.objects.get(name="Fleet")
    return [
        {},
        {"tier": "B"},
        {"product_area_id": area.pk},
        {"owner_id": alice.pk},
        {"unassigned": True},
    ]


@pytest.mark.parametrize("basis", ["created", "active"])
@pytest.mark.parametrize("period", PERIODS, ids=["edges", "months", "inside", "all"])
def test_stage_figures_match_plain_python_for_every_filter(
    generated, bob, alice, pipeline_a, stages_a, basis, period
):
    """Whole months come from the monthly sums, the edges from the visits, "active" is
    created-before-the-end less closed-before-the-start: each way must count the same."""
    # Deals at the period's edges: created, and closed, just before and after its start and
    # its end (in the edge months the pages read from the visits).
    start, end = _start(period[0]), _start(period[1] + timedelta(days=1))
    for i, moment in enumerate([start, end]):
        for shift in (-30, -2, 2, 30):
            when = moment + timedelta(hours=shift)
            created = (NOW - when).total_seconds() / 86400 + 20
            closed = (NOW - when).total_seconds() / 86400
            if closed <= 0 or created <= 0:
                continue
            make_deal(
                stages_a,
                [(0, created), (1 + i, created - 3), (2, max(closed + 1, created - 9))],
                owner=[alice, bob, None][shift % 3],
                status=["won", "lost"][i],
                closed=closed,
                company=Company.objects.order_by("pk")[abs(shift) % 3],
            )
            make_deal(stages_a, [(0, closed), (1, max(0.1, closed - 1))], owner=alice)
    analytics_refresh()
    for narrowing in _narrowings(alice):
        filters = AnalyticsFilters(start=period[0], end=period[1], basis=basis, **narrowing)
        funnel_expected = _expected_funnel(pipeline_a, stages_a, filters)
        rows = funnel(user=bob, filters=filters, pipeline=pipeline_a)
        got = {r.stage.pk: [r.entered, r.moved_on, r.lost, r.won, r.still_here] for r in rows}
        empty = {s.pk: [0, 0, 0, 0, 0] for s in stages_a}
        assert got == funnel_expected.get(0, empty), narrowing

        stays = _expected_stays(pipeline_a, filters, lambda d, c: c.to_stage_id)
        for row in time_in_stage(user=bob, filters=filters, pipeline=pipeline_a, now=NOW):
            values = stays.get(row.stage.pk, [])
            assert row.stays == len(values), narrowing
            assert row.median == percentile(values, 0.5), narrowing
            assert row.p80 == pytest.approx(percentile(values, 0.8)), narrowing
            assert row.buckets == [
                sum(low <= v and (high is None or v < high) for v in values)
                for low, high in BUCKETS
            ]

        by_owner = _expected_funnel(pipeline_a, stages_a, filters, key=lambda d: d.owner_id)
        owner_stays = _expected_stays(pipeline_a, filters, lambda d, c: (d.owner_id, c.to_stage_id))
        matrix = reps_by_stage(
            user=bob, filters=filters, pipeline=pipeline_a, now=NOW, unassigned="-"
        )
        for rep in matrix.rows:
            for cell in rep.cells:
                expected = by_owner.get(rep.owner_id, empty)[cell.stage.pk]
                assert (cell.entered, cell.moved_on) == tuple(expected[:2]), narrowing
                values = owner_stays.get((rep.owner_id, cell.stage.pk), [])
                assert cell.median_days == percentile(values, 0.5), narrowing


@pytest.mark.parametrize("narrow", ["none", "tier", "area", "owner"])
def test_losses_match_plain_python(generated, bob, alice, pipeline_a, narrow):
    deals, _ = _rows(pipeline_a)
    filters = PERIOD
    keep = lambda d: True  # noqa: E731
    if narrow == "tier":
        filters = AnalyticsFilters(start=PERIOD.start, end=PERIOD.end, tier="B")
        tiers = dict(Company.objects.values_list("pk", "tier"))
        keep = lambda d: tiers.get(d.company_id) == "B"  # noqa: E731
    elif narrow == "area":
        area = ProductArea.objects.get(name="Fleet")
        filters = AnalyticsFilters(start=PERIOD.start, end=PERIOD.end, product_area_id=area.pk)
        keep = lambda d: d.product_area_id == area.pk  # noqa: E731
    elif narrow == "owner":
        filters = AnalyticsFilters(start=PERIOD.start, end=PERIOD.end, owner_id=alice.pk)
        keep = lambda d: d.owner_id == alice.pk  # noqa: E731
    lost = [d for d in deals.values() if d.status == "lost" and keep(d)]
    analysis = loss_analysis(user=bob, filters=filters, no_reason="-")
    rates = current_rates()
    assert analysis.total.count == len(lost)
    assert analysis.total.value == round_cents(
        sum((d.value * rates[d.currency].rate for d in lost), Decimal(0))
    )
    expected: dict = {}
    for d in lost:
        cell = expected.setdefault((d.lost_reason_id, d.lost_from_stage_id), [0, 0.0])
        cell[0] += 1
        cell[1] += (d.closed_at - d.created_at).total_seconds() / 86400
    got = {k: [c.count, c.days_total] for k, c in analysis.by_reason_stage.items()}
    assert got.keys() == expected.keys()
    for key, (count, days) in expected.items():
        assert got[key][0] == count
        assert got[key][1] == pytest.approx(days, abs=1e-3)


def test_velocity_matches_plain_python(generated, bob, pipeline_a):
    deals, _ = _rows(pipeline_a)
    teams, reps, total = velocity(user=bob, filters=PERIOD, unassigned="-")
    rates = current_rates()
    everyone = list(deals.values())
    won = [d for d in everyone if d.status == "won"]
    lost = [d for d in everyone if d.status == "lost"]
    open_count = sum(d.status == "open" for d in everyone)
    average = sum(d.value * rates[d.currency].rate for d in won) / len(won)
    cycle = sum((d.closed_at - d.created_at).total_seconds() for d in won) / len(won) / 86400
    expected = open_count * (Decimal(len(won)) / (len(won) + len(lost))) * average
    expected /= Decimal(str(cycle))
    assert total.open_count == open_count
    assert float(total.per_day) == pytest.approx(float(expected), abs=0.006)  # to the cent
    assert len(teams) == 1 and teams[0].per_day == total.per_day
    assert sum(r.open_count for r in reps) == open_count


def test_velocity_trend_counts_open_at_month_end(generated, bob, pipeline_a):
    deals, _ = _rows(pipeline_a)
    months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    trend = velocity_trend(user=bob, filters=PERIOD, months=months)
    tz = timezone.get_current_timezone()
    for month, point in zip(months, trend, strict=True):
        nxt = (month + timedelta(days=32)).replace(day=1)
        end = timezone.make_aware(datetime(nxt.year, nxt.month, 1), tz)
        start = timezone.make_aware(datetime(month.year, month.month, 1), tz)
        assert point.open_count == sum(
            d.created_at < end and (d.closed_at is None or d.closed_at >= end)
            for d in deals.values()
        )
        assert point.won == sum(
            d.status == "won" and start <= d.closed_at < end for d in deals.values()
        )


def test_own_deals_team_sees_only_own_figures(history, alice, alex, team_a, pipeline_a):
    team_a.own_deals_only = True
    team_a.save()
    rows = funnel(user=alice, filters=PERIOD, pipeline=pipeline_a)
    assert rows[0].entered == 2  # alice's two deals, not alex's or bob's
    matrix = reps_by_stage(user=alice, filters=PERIOD, pipeline=pipeline_a, now=NOW, unassigned="-")
    assert [r.owner_id for r in matrix.rows] == [alice.pk]


def test_outsider_sees_nothing(history, carol, pipeline_a):
    assert funnel(user=carol, filters=PERIOD, pipeline=pipeline_a)[0].entered == 0
    assert loss_analysis(user=carol, filters=PERIOD, no_reason="-").total.count == 0


def test_reporting_currency_is_eur():
    assert settings.REPORTING_CURRENCY


def test_months_and_periods_follow_the_organisation_time_zone(bob, alice, pipeline_a, stages_a):
    """Months and period days are the organisation's: a deal created at 21:00 on 31 December
    in New York is December's there, although it is already January in Copenhagen."""
    from zoneinfo import ZoneInfo

    from crm.models import Organisation
    from crm.organisation import organisation_changed

    zone = ZoneInfo("America/New_York")
    midnight = datetime(2026, 1, 1, tzinfo=zone)
    for hours in (-3, 3):
        days = (NOW - (midnight + timedelta(hours=hours))).total_seconds() / 86400
        make_deal(stages_a, [(0, days), (1, days - 2)], owner=alice)
    analytics_refresh()
    Organisation.objects.filter(pk=1).update(time_zone="America/New_York")
    organisation_changed()
    analytics_refresh()  # a new time zone rebuilds the monthly sums
    with timezone.override(zone):
        for start, end in [
            (date(2026, 1, 1), date(2026, 2, 28)),
            (date(2025, 12, 1), date(2025, 12, 31)),
        ]:
            filters = AnalyticsFilters(start=start, end=end)
            expected = _expected_funnel(pipeline_a, stages_a, filters)[0]
            rows = funnel(user=bob, filters=filters, pipeline=pipeline_a)
            assert {
                r.stage.pk: [r.entered, r.moved_on, r.lost, r.won, r.still_here] for r in rows
            } == expected
            assert rows[0].entered == 1
