"""Reads for the pipeline analytics pages: funnel, time in stage, reps by stage, loss analysis
and velocity. Everything is computed in SQL, a fixed number of queries whatever the number of
deals, and Python only shapes the few grouped rows that come back. Stage figures (funnel, time
in stage, reps by stage) read the derived tables of `pipeline.services.analytics` (callers
refresh them first): the monthly sums (`StageMonth`) for the months a period covers whole,
and the stage visits (`StageVisit`) for the days at its edges and for the running stays; the
visibility rule (`deal_visibility`) and the filters apply to both. Deal figures (outcomes,
losses, velocity) read the deals the user may see (`Deal.objects.visible_to`).

Definitions (also on the pages' help text and in README, "## Analytics"):

- **Cohort**: the visible deals of the filters (pipeline, team, rep, tier, product area) that
  were *created* in the period, or (basis "active") were open at some time in it: created
  before its end and not closed before its start.
- **Entry**: a StageChange row into a stage (deal creation writes one with no from-stage).
  Won, lost, paused and reopen write none: a reopened deal carries on in the stage it left.
- **Entered a stage** (funnel, reps): a deal counts once per stage however often it entered
  it (moving back and forth does not inflate conversion).
- **Moved on** from a stage: after its first entry into the stage the deal entered a stage
  further along the pipeline, or it is won. A deal that skipped a stage never entered it.
- **Lost here**: the deal is lost now, from this stage (`lost_from_stage`); a deal reopened
  after a loss is not lost.
- **Stay** (time in stage): every entry counts, from its moment to the next entry of the same
  deal; the last stay ends when the deal closed (won or lost) or, for an open or paused deal,
  now. A deal that moved back has one stay per entry. A stay counts its whole days (rounded
  down); medians and 80th percentiles are of those (interpolated, as percentile_cont), the
  mean is exact.
- **Rep**: the deal's owner now (as of the last refresh, for stage figures; ownership history
  is not recorded), "Unassigned" without one.
- **Win rate**: won / (won + lost) of the cohort's closed deals. **Sales cycle**: average days
  from creation to winning. **Velocity** = open deals x win rate x average won value / sales
  cycle, in reporting currency per day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import TruncMonth

from accounts.models import User
from crm.organisation import organisation_zone
from crm.replica import read_connection
from pipeline.models import Deal, DealStatus, Pipeline, Stage, StageMonth, deal_visibility
from pipeline.money import Rate, current_rates, round_cents
from pipeline.sql_time import seconds_between_sql, whole_days_sql

SMALL_SAMPLE = 5  # fewer than this: shown greyed, never as a confident percentage
BASES = ("created", "active")
# Histogram buckets of the time-in-stage distribution: [low, high) days; None = open-ended.
BUCKETS = ((0, 3), (3, 7), (7, 14), (14, 30), (30, 60), (60, 90), (90, None))


@dataclass(frozen=True)
class AnalyticsFilters:
    start: date
    end: date  # inclusive
    basis: str = "created"
    pipeline_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None
    tier: str | None = None
    product_area_id: int | None = None
    unassigned: bool = False  # the rep filter is "no owner"


def _tz():
    """The organisation's time zone: its days and months (the periods, the monthly sums)."""
    return organisation_zone()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_tz())


def narrowed_deals(*, user: User, filters: AnalyticsFilters) -> QuerySet[Deal]:
    """The visible deals of the filters, any period."""
    qs = Deal.objects.visible_to(user)
    if filters.pipeline_id:
        qs = qs.filter(pipeline_id=filters.pipeline_id)
    if filters.team_id:
        qs = qs.filter(pipeline__team_id=filters.team_id)
    if filters.unassigned:
        qs = qs.filter(owner__isnull=True)
    elif filters.owner_id:
        qs = qs.filter(owner_id=filters.owner_id)
    if filters.tier:
        qs = qs.filter(company__tier=filters.tier)
    if filters.product_area_id:
        qs = qs.filter(product_area_id=filters.product_area_id)
    return qs


def cohort_deals(*, user: User, filters: AnalyticsFilters) -> QuerySet[Deal]:
    """The visible deals the analytics are computed from (see "Cohort" above)."""
    qs = narrowed_deals(user=user, filters=filters)
    start, end = _start_of(filters.start), _start_of(filters.end + timedelta(days=1))
    if filters.basis == "active":
        return qs.filter(created_at__lt=end).filter(
            Q(closed_at__isnull=True) | Q(closed_at__gte=start)
        )
    return qs.filter(created_at__gte=start, created_at__lt=end)


# --- the cohort's stage visits: whole months from StageMonth, the rest from StageVisit ------


@dataclass(frozen=True)
class _Piece:
    """A part of the cohort's visits, added (sign 1) or taken away (-1): whole months of the
    monthly sums (`source` "months") or a time range of the visits themselves ("visits")."""

    sign: int
    source: str
    where: str
    params: tuple


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    return datetime.combine((moment.date() + timedelta(days=32)).replace(day=1), time.min, _tz())


def _pieces(filters: AnalyticsFilters) -> list[_Piece]:
    """The cohort's period as pieces: the months it covers whole, read from the monthly sums,
    and the days at its edges, read from the visits. "Active" is everything created before the
    period's end less what closed before its start (a deal created before it closed)."""
    start, end = _start_of(filters.start), _start_of(filters.end + timedelta(days=1))

    def months(basis: int, low: datetime | None, high: datetime, sign: int = 1) -> list[_Piece]:
        if low is not None and low >= high:
            return []
        where, params = "basis = %s AND month < %s", [basis, high.date()]
        if low is not None:
            where, params = where + " AND month >= %s", [*params, low.date()]
        return [_Piece(sign, "months", where, tuple(params))]

    def visits(column: str, low: datetime, high: datetime, sign: int = 1) -> list[_Piece]:
        if low >= high:
            return []
        where = f"{column} >= %s AND {column} < %s"
        return [_Piece(sign, "visits", where, (low, high))]

    if filters.basis == "active":
        return [
            *months(StageMonth.CREATED, None, _month_start(end)),
            *visits("created_at", _month_start(end), end),
            *months(StageMonth.CLOSED, None, _month_start(start), -1),
            *visits("closed_at", _month_start(start), start, -1),
        ]
    first = start if start == _month_start(start) else _next_month(start)
    last = _month_start(end)
    if first >= last:
        return visits("created_at", start, end)
    return [
        *visits("created_at", start, first),
        *months(StageMonth.CREATED, first, last),
        *visits("created_at", last, end),
    ]


def _running_where(filters: AnalyticsFilters) -> tuple[str, tuple]:
    """The cohort's running stays (open and paused deals: their last entry)."""
    start, end = _start_of(filters.start), _start_of(filters.end + timedelta(days=1))
    if filters.basis == "active":
        return "seconds IS NULL AND created_at < %s", (end,)
    return "seconds IS NULL AND created_at >= %s AND created_at < %s", (start, end)


def _narrowing(user: User, filters: AnalyticsFilters, source: str) -> tuple[str, list]:
    """The filters and the visibility rule as SQL on a source's columns."""
    if source == "months":
        owner, no_owner, area = "owner_key", "owner_key = 0", "product_area_key"
    else:
        owner, no_owner, area = "owner_id", "owner_id IS NULL", "product_area_id"
    parts, params = [], []
    if filters.pipeline_id:
        parts.append("pipeline_id = %s")
        params.append(filters.pipeline_id)
    if filters.team_id:
        parts.append("pipeline_id IN (SELECT id FROM pipeline_pipeline WHERE team_id = %s)")
        params.append(filters.team_id)
    if filters.unassigned:
        parts.append(no_owner)
    elif filters.owner_id:
        parts.append(f"{owner} = %s")
        params.append(filters.owner_id)
    if filters.tier:
        parts.append("tier = %s")
        params.append(filters.tier)
    if filters.product_area_id:
        parts.append(f"{area} = %s")
        params.append(filters.product_area_id)
    rule = deal_visibility(user)
    if not rule.everything:
        seen = []
        if rule.full_pipeline_ids:
            seen.append(f"pipeline_id IN ({_ids(rule.full_pipeline_ids)})")
        if rule.own_pipeline_ids:
            seen.append(
                f"(pipeline_id IN ({_ids(rule.own_pipeline_ids)}) AND ({owner} = %s OR {no_owner}))"
            )
            params.append(rule.user_id)
        parts.append("(" + (" OR ".join(seen) or "1 = 0") + ")")
    return " AND ".join(parts) or "1 = 1", params


def _ids(ids) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _db(value):
    return connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value


def _fetch(sql: str, params: list) -> list[tuple]:
    with read_connection().cursor() as cursor:  # the replica on the report pages
        cursor.execute(sql, params)
        return cursor.fetchall()


def _stage_ids(stages: list[Stage]) -> str:
    return _ids(s.pk for s in stages) or "NULL"


def _union(
    user: User,
    filters: AnalyticsFilters,
    stages: list[Stage],
    *,
    months: tuple[str, str],
    visits: tuple[str, str],
    running: tuple[str, datetime] | None = None,
) -> tuple[str, list]:
    """UNION ALL of the cohort's pieces in `stages`. `months` and `visits` are (SELECT list,
    condition) over pipeline_stagemonth and pipeline_stagevisit, the SELECT list with {sign};
    `running` (SELECT list, now) reads the running stays, with `now_.at` for now."""
    selects, params = [], []
    stage_in = f"stage_id IN ({_stage_ids(stages)})"
    for piece in _pieces(filters):
        narrowing, narrowing_params = _narrowing(user, filters, piece.source)
        columns, condition = months if piece.source == "months" else visits
        table = "pipeline_stagemonth" if piece.source == "months" else "pipeline_stagevisit"
        selects.append(
            f"SELECT {columns.format(sign=piece.sign)} FROM {table} "
            f"WHERE {condition} AND {piece.where} AND {stage_in} AND {narrowing}"
        )
        params += [*[_db(p) for p in piece.params], *narrowing_params]
    if running is not None:
        columns, now = running
        narrowing, narrowing_params = _narrowing(user, filters, "visits")
        where, where_params = _running_where(filters)
        pg = connection.vendor == "postgresql"
        now_sql = "CAST(%s AS TIMESTAMP WITH TIME ZONE)" if pg else "%s"
        selects.append(
            f"SELECT {columns} FROM pipeline_stagevisit, (SELECT {now_sql} AS at) now_ "
            f"WHERE {where} AND {stage_in} AND {narrowing}"
        )
        params += [_db(now), *[_db(p) for p in where_params], *narrowing_params]
    return "\nUNION ALL\n".join(selects), params


EVERYONE = -1  # the group of all owners together (g), beside each owner's


def _stay_stats_sql(union: str, *, everyone: bool) -> str:
    """Per (g, stage): stays, open stays, summed seconds, the whole days at the ranks around
    the median and the 80th percentile (for interpolation, as percentile_cont), and the
    histogram's buckets, from `union` rows (g, stage_id, days, n, seconds, open); with
    `everyone`, also per stage for all g together (g EVERYONE), from the same histogram."""
    together = (
        f"""UNION ALL SELECT {EVERYONE}, stage_id, days, CAST(SUM(n) AS BIGINT),
                CAST(SUM(seconds) AS BIGINT), CAST(SUM(open) AS BIGINT)
            FROM h GROUP BY stage_id, days"""
        if everyone
        else ""
    )
    buckets = ", ".join(
        f"SUM(CASE WHEN days >= {low}{f' AND days < {high}' if high else ''} THEN n ELSE 0 END)"
        for low, high in BUCKETS
    )
    return f"""
        WITH u (g, stage_id, days, n, seconds, open) AS ({union}),
        h AS (
            SELECT g, stage_id, days, CAST(SUM(n) AS BIGINT) AS n,
                CAST(SUM(seconds) AS BIGINT) AS seconds, CAST(SUM(open) AS BIGINT) AS open
            FROM u GROUP BY g, stage_id, days HAVING SUM(n) > 0
        ),
        hh AS (SELECT * FROM h {together}),
        c AS (
            SELECT hh.*,
                CAST(SUM(n) OVER (PARTITION BY g, stage_id ORDER BY days
                    ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto,
                CAST(SUM(n) OVER (PARTITION BY g, stage_id) AS BIGINT) AS total
            FROM hh
        )
        SELECT g, stage_id, total, SUM(open), SUM(seconds),
            MIN(CASE WHEN upto > (total - 1) / 2 THEN days END),
            MIN(CASE WHEN upto > (total - 1) / 2 + 1 THEN days END),
            MIN(CASE WHEN upto > (total - 1) * 4 / 5 THEN days END),
            MIN(CASE WHEN upto > (total - 1) * 4 / 5 + 1 THEN days END),
            {buckets}
        FROM c GROUP BY g, stage_id, total
    """


@dataclass(frozen=True)
class _StayStats:
    n: int
    open: int
    mean: float
    median: float
    p80: float
    buckets: tuple[int, ...]


def _stay_stats(row) -> _StayStats:
    """A _stay_stats_sql row (after g and stage_id) as figures: percentiles interpolated
    between the two ranks around them, as percentile_cont does."""
    total, open_n, seconds, a50, b50, a80, b80, *buckets = row
    total = int(total)
    median = a50 + ((total - 1) % 2) / 2 * ((b50 if b50 is not None else a50) - a50)
    p80 = a80 + ((total - 1) * 4 % 5) / 5 * ((b80 if b80 is not None else a80) - a80)
    return _StayStats(
        n=total,
        open=int(open_n or 0),
        mean=float(seconds or 0) / 86400 / total,
        median=float(median),
        p80=float(p80),
        buckets=tuple(int(b or 0) for b in buckets),
    )


def _stays(
    user: User, filters: AnalyticsFilters, stages: list[Stage], now: datetime, *, by_owner: bool
) -> dict[tuple, _StayStats]:
    """{(owner id or None, stage id): stats} of the cohort's stays in `stages` with
    `by_owner`, plus {(EVERYONE, stage id): stats} of all owners together; {(0, stage id):
    stats} without. One query: finished stays by whole days from the months and the edges'
    visits, running stays (up to `now`) from the visits."""
    if not stages:
        return {}
    running = seconds_between_sql("now_.at", "entered_at")
    months_g, visits_g = ("owner_key", "COALESCE(owner_id, 0)") if by_owner else ("0", "0")
    union, params = _union(
        user,
        filters,
        stages,
        months=(f"{months_g}, stage_id, days, n * {{sign}}, seconds * {{sign}}, 0", "days >= 0"),
        visits=(
            f"{visits_g}, stage_id, {whole_days_sql('seconds')}, {{sign}}, seconds * {{sign}}, 0",
            "seconds IS NOT NULL",
        ),
        running=(
            f"{visits_g}, stage_id, {whole_days_sql(running)}, 1, {running}, 1",
            now,
        ),
    )
    result = {}
    for g, stage_id, *rest in _fetch(_stay_stats_sql(union, everyone=by_owner), params):
        key = g if g == EVERYONE or not by_owner else (g or None)
        result[(key, stage_id)] = _stay_stats(rest)
    return result


def percentile(values: list[float], p: float) -> float | None:
    """percentile_cont in plain Python (the tests' reference)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p
    low = int(pos)
    frac = pos - low
    if low + 1 >= len(ordered) or not frac:
        return ordered[low]
    return ordered[low] + frac * (ordered[low + 1] - ordered[low])


# --- funnel --------------------------------------------------------------------------------


@dataclass
class FunnelStage:
    stage: Stage
    entered: int = 0
    moved_on: int = 0
    lost: int = 0
    won: int = 0
    still_here: int = 0
    reach: Decimal | None = None  # entered / entered the first stage
    is_biggest_drop: bool = False

    @property
    def conversion(self) -> Decimal | None:
        return None if not self.entered else Decimal(self.moved_on) / self.entered

    @property
    def to_won(self) -> Decimal | None:
        return None if not self.entered else Decimal(self.won) / self.entered

    @property
    def dropped(self) -> int:
        return self.entered - self.moved_on

    @property
    def is_small(self) -> bool:
        return self.entered < SMALL_SAMPLE


def _entry_counts(
    user: User, filters: AnalyticsFilters, stages: list[Stage], *, by_owner: bool
) -> dict:
    """{owner id or None (0 without `by_owner`): {stage id: (entered, moved on, lost there,
    won, still there)}} of the cohort's first entries into `stages`. One query."""
    if not stages:
        return {}
    months_g, visits_g = ("owner_key", "COALESCE(owner_id, 0)") if by_owner else ("0", "0")
    flag = "CASE WHEN {} THEN {{sign}} ELSE 0 END".format
    union, params = _union(
        user,
        filters,
        stages,
        months=(
            f"{months_g}, stage_id, n * {{sign}}, moved * {{sign}}, lost * {{sign}}, "
            "won * {sign}, here * {sign}",
            "days = -1",
        ),
        visits=(
            f"{visits_g}, stage_id, {{sign}}, {flag('moved_on OR won')}, {flag('lost_here')}, "
            f"{flag('won')}, {flag('here_now')}",
            "is_first",
        ),
    )
    sql = f"""
        WITH u (g, stage_id, n, moved, lost, won, here) AS ({union})
        SELECT g, stage_id, SUM(n), SUM(moved), SUM(lost), SUM(won), SUM(here)
        FROM u GROUP BY g, stage_id
    """
    result: dict = defaultdict(dict)
    for owner, stage_id, *values in _fetch(sql, params):
        result[(owner or None) if by_owner else 0][stage_id] = tuple(int(v or 0) for v in values)
    return result


def pipeline_stages(pipeline: Pipeline) -> list[Stage]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position", "pk"))


def funnel(*, user: User, filters: AnalyticsFilters, pipeline: Pipeline) -> list[FunnelStage]:
    """Per stage of the pipeline: deals of the cohort that entered it, moved on, were lost
    there, are won, or still sit there; the stage with the lowest share moving on marked.
    Two queries: the stages, the grouped entries."""
    stages = pipeline_stages(pipeline)
    counts = _entry_counts(user, filters, stages, by_owner=False).get(0, {})
    rows = [FunnelStage(stage, *counts.get(stage.pk, (0, 0, 0, 0, 0))) for stage in stages]
    first = next((r.entered for r in rows if r.entered), 0)
    for r in rows:
        r.reach = Decimal(r.entered) / first if first else None
    # The lowest share moving on, among stages that lost someone (enough of a sample first).
    dropping = [r for r in rows if r.dropped]
    candidates = [r for r in dropping if not r.is_small] or dropping
    if candidates:
        min(candidates, key=lambda r: (r.conversion, -r.dropped)).is_biggest_drop = True
    return rows


# --- time in stage -----------------------------------------------------------------------


@dataclass
class StageTime:
    stage: Stage
    stays: int = 0
    open_stays: int = 0
    median: float | None = None
    p80: float | None = None
    mean: float | None = None
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    is_slowest: bool = False

    @property
    def over_rot(self) -> bool:
        return self.median is not None and self.median > self.stage.rot_days

    @property
    def is_small(self) -> bool:
        return self.stays < SMALL_SAMPLE


def time_in_stage(
    *, user: User, filters: AnalyticsFilters, pipeline: Pipeline, now: datetime
) -> list[StageTime]:
    """Per stage: how many stays (one per entry), how many still running, median and 80th
    percentile of their whole days, mean days, and the histogram of stay lengths. Two
    queries: the stages, and the stays."""
    stages = pipeline_stages(pipeline)
    rows = {s.pk: StageTime(s) for s in stages}
    for (_g, stage_id), stats in _stays(user, filters, stages, now, by_owner=False).items():
        row = rows.get(stage_id)
        if row:
            row.stays, row.open_stays, row.buckets = stats.n, stats.open, list(stats.buckets)
            row.median, row.p80, row.mean = stats.median, stats.p80, stats.mean
    ordered = [rows[s.pk] for s in stages]
    measured = sorted((r for r in ordered if r.median is not None), key=lambda r: -r.median)
    for r in measured[: 2 if len(measured) > 3 else 1]:
        r.is_slowest = True
    return ordered


# --- reps by stage -----------------------------------------------------------------------


@dataclass
class RepCell:
    stage: Stage
    entered: int = 0
    moved_on: int = 0
    median_days: float | None = None
    team_conversion: Decimal | None = None

    @property
    def conversion(self) -> Decimal | None:
        return None if not self.entered else Decimal(self.moved_on) / self.entered

    @property
    def is_small(self) -> bool:
        return self.entered < SMALL_SAMPLE

    @property
    def tone(self) -> str:
        """Against the team's conversion in the stage: 'above', 'below', 'even' or ''."""
        if self.is_small or self.conversion is None or self.team_conversion is None:
            return ""
        diff = self.conversion - self.team_conversion
        if diff >= Decimal("0.1"):
            return "above"
        if diff <= Decimal("-0.1"):
            return "below"
        return "even"


@dataclass
class RepRow:
    owner_id: int | None
    label: str
    cells: list[RepCell]
    won: int = 0
    lost: int = 0
    won_value_exact: Decimal = Decimal(0)
    cycle_days_total: float = 0.0
    open_count: int = 0

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> Decimal | None:
        return None if not self.closed else Decimal(self.won) / self.closed

    @property
    def average_won(self) -> Decimal | None:
        return None if not self.won else round_cents(self.won_value_exact / self.won)

    @property
    def cycle_days(self) -> float | None:
        return None if not self.won else self.cycle_days_total / self.won

    @property
    def is_small(self) -> bool:
        return self.closed < SMALL_SAMPLE


@dataclass
class RepMatrix:
    stages: list[Stage]
    rows: list[RepRow]
    team: RepRow


def _outcomes(
    deals: QuerySet[Deal], group: tuple[str, ...], rates: dict[str, Rate]
) -> dict[object, dict[str, object]]:
    """Per value of the `group` columns (a tuple of them, or the one value for one column):
    won and lost counts, won value (reporting currency, exact), summed days from creation to
    winning, open deals. One grouped query (by the columns and currency)."""
    cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    rows = (
        deals.values(*group, "currency")
        .annotate(
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
            open=Count("pk", filter=Q(status=DealStatus.OPEN)),
            won_value=Sum("value", filter=Q(status=DealStatus.WON)),
            cycle=Sum(cycle, filter=Q(status=DealStatus.WON)),
        )
        .order_by()
    )
    result: dict = defaultdict(_no_outcome)
    for r in rows:
        key = tuple(r[g] for g in group) if len(group) > 1 else r[group[0]]
        _add_outcome(
            result[key],
            {
                "won": r["won"],
                "lost": r["lost"],
                "open": r["open"],
                "value": (r["won_value"] or Decimal(0)) * rates[r["currency"]].rate,
                "cycle": r["cycle"].total_seconds() / 86400 if r["cycle"] else 0.0,
            },
        )
    return result


def _no_outcome() -> dict:
    return {"won": 0, "lost": 0, "open": 0, "value": Decimal(0), "cycle": 0.0}


def _add_outcome(total: dict, part: dict) -> None:
    for k in ("won", "lost", "open", "value", "cycle"):
        total[k] += part[k]


def _owner_labels(ids) -> dict:
    labels = {u.pk: str(u) for u in User.objects.filter(pk__in=[i for i in ids if i])}
    return labels


def reps_by_stage(
    *, user: User, filters: AnalyticsFilters, pipeline: Pipeline, now: datetime, unassigned: str
) -> RepMatrix:
    """A row per rep (deal owner now): per stage, deals that entered it and moved on, and the
    median days of their stays there; per rep, win rate, average won value and sales cycle;
    the team's row the same over everyone. Five queries: stages, entries grouped by rep,
    stay medians by rep and stage (and by stage for everyone), outcomes by rep and
    currency, rep names."""
    stages = pipeline_stages(pipeline)
    entries = _entry_counts(user, filters, stages, by_owner=True)
    medians = _stays(user, filters, stages, now, by_owner=True)
    counts = [
        (owner_id, stage_id, *values)
        for owner_id, per_stage in entries.items()
        for stage_id, values in per_stage.items()
        if values[0]
    ]
    rates = current_rates()
    deals = cohort_deals(user=user, filters=filters).filter(pipeline=pipeline)
    outcomes = _outcomes(deals, ("owner_id",), rates)
    owners = {r[0] for r in counts} | set(outcomes)
    labels = _owner_labels(owners)

    by_owner: dict = defaultdict(dict)
    team_cells = {s.pk: RepCell(s) for s in stages}
    for owner_id, stage_id, entered, moved, *_rest in counts:
        by_owner[owner_id][stage_id] = (int(entered), int(moved))
        team_cells[stage_id].entered += int(entered)
        team_cells[stage_id].moved_on += int(moved)
    for (g, stage_id), stat in medians.items():
        if g == EVERYONE and stage_id in team_cells:
            team_cells[stage_id].median_days = stat.median
    rows = []
    team = RepRow(owner_id=0, label="", cells=[team_cells[s.pk] for s in stages])
    for owner_id in owners:
        cells = []
        for stage in stages:
            entered, moved = by_owner[owner_id].get(stage.pk, (0, 0))
            stat = medians.get((owner_id, stage.pk))
            cells.append(
                RepCell(
                    stage,
                    entered,
                    moved,
                    median_days=stat.median if stat else None,
                    team_conversion=team_cells[stage.pk].conversion,
                )
            )
        out = outcomes.get(owner_id) or {"won": 0, "lost": 0, "open": 0, "value": 0, "cycle": 0}
        row = RepRow(
            owner_id=owner_id,
            label=labels.get(owner_id, unassigned) if owner_id else unassigned,
            cells=cells,
            won=out["won"],
            lost=out["lost"],
            won_value_exact=Decimal(out["value"]),
            cycle_days_total=out["cycle"],
            open_count=out["open"],
        )
        rows.append(row)
        team.won += row.won
        team.lost += row.lost
        team.won_value_exact += row.won_value_exact
        team.cycle_days_total += row.cycle_days_total
        team.open_count += row.open_count
    rows.sort(key=lambda r: (r.owner_id is None, r.label.lower()))
    return RepMatrix(stages=stages, rows=rows, team=team)


def stage_entry_deals(
    *,
    user: User,
    filters: AnalyticsFilters,
    stage: Stage,
    owner_id: int | None,
    by_owner: bool,
    outcome: str = "",
) -> QuerySet[Deal]:
    """Drill-down: the cohort's deals that entered `stage` (for one owner when `by_owner`),
    narrowed to those lost there ('lost'), moved on ('moved') or still there ('here')."""
    deals = cohort_deals(user=user, filters=filters).filter(
        pipeline_id=stage.pipeline_id, stage_changes__to_stage=stage
    )
    if by_owner:
        deals = deals.filter(owner_id=owner_id) if owner_id else deals.filter(owner__isnull=True)
    if outcome == "lost":
        deals = deals.filter(status=DealStatus.LOST, lost_from_stage=stage)
    elif outcome == "here":
        deals = deals.filter(status__in=[DealStatus.OPEN, DealStatus.PAUSED], stage=stage)
    elif outcome == "won":
        deals = deals.filter(status=DealStatus.WON)
    return (
        deals.distinct()
        .select_related("company", "owner", "stage", "lost_reason")
        .order_by("-created_at", "pk")
    )


# --- losses --------------------------------------------------------------------------------


@dataclass
class LossCell:
    count: int = 0
    value_exact: Decimal = Decimal(0)
    days_total: float = 0.0

    def add(self, count: int, value: Decimal, days: float) -> None:
        self.count += count
        self.value_exact += value
        self.days_total += days

    @property
    def value(self) -> Decimal:
        return round_cents(self.value_exact)

    @property
    def days(self) -> float | None:
        return None if not self.count else self.days_total / self.count


@dataclass
class LossStageGroup:
    """A pipeline's stages that deals were lost from, in the pipeline's stage order."""

    pipeline: str
    stages: list[tuple[int | None, str]]  # (stage id, stage name)


@dataclass
class LossAnalysis:
    reasons: dict[int | None, str]
    stages: dict[int | None, str]  # "Stage (Pipeline)"
    stage_groups: list[LossStageGroup]  # pipelines in their order, then deals lost from none
    months: list[date]
    by_reason_stage: dict[tuple, LossCell]
    by_reason_month: dict[tuple, LossCell]
    by_reason: dict[int | None, LossCell]
    by_stage: dict[int | None, LossCell]
    by_month: dict[date, LossCell]
    total: LossCell

    @property
    def stage_order(self) -> list[int | None]:
        """The stages lost from, grouped by pipeline, each pipeline in its stage order."""
        return [pk for group in self.stage_groups for pk, _name in group.stages]

    def top_reasons(self, stage_id, limit: int = 3) -> list[tuple[str, LossCell]]:
        cells = [(r, c) for (r, s), c in self.by_reason_stage.items() if s == stage_id]
        cells.sort(key=lambda rc: (-rc[1].count, -rc[1].value_exact))
        return [(self.reasons.get(r, ""), c) for r, c in cells[:limit]]


def _month(value) -> date:
    return value.date().replace(day=1) if hasattr(value, "date") else value.replace(day=1)


def lost_deals(*, user: User, filters: AnalyticsFilters) -> QuerySet[Deal]:
    """The cohort's deals lost now (a deal reopened after a loss is not lost)."""
    return cohort_deals(user=user, filters=filters).filter(status=DealStatus.LOST)


def loss_analysis(*, user: User, filters: AnalyticsFilters, no_reason: str) -> LossAnalysis:
    """Lost count, value (reporting currency) and days from creation to loss, by reason x
    stage lost from x month of the loss; the stages grouped by pipeline (in the pipelines'
    order), each pipeline's in its stage order, so no two pipelines' stages interleave.
    Three queries: the grouped losses, the reason names, the stages."""
    from pipeline.models import LostReason

    rates = current_rates()
    days = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    rows = list(
        lost_deals(user=user, filters=filters)
        .annotate(month=TruncMonth("closed_at", tzinfo=_tz()))
        .values("lost_reason_id", "lost_from_stage_id", "month", "currency")
        .annotate(n=Count("pk"), total=Sum("value"), days=Sum(days))
        .order_by()
    )
    cells: dict[str, dict] = {k: defaultdict(LossCell) for k in ("rs", "rm", "r", "s", "m")}
    total = LossCell()
    for r in rows:
        value = (r["total"] or Decimal(0)) * rates[r["currency"]].rate
        spent = r["days"].total_seconds() / 86400 if r["days"] else 0.0
        reason, stage, month = r["lost_reason_id"], r["lost_from_stage_id"], _month(r["month"])
        for key, cell_key in (
            ("rs", (reason, stage)),
            ("rm", (reason, month)),
            ("r", reason),
            ("s", stage),
            ("m", month),
        ):
            cells[key][cell_key].add(r["n"], value, spent)
        total.add(r["n"], value, spent)
    reason_ids = {k for k in cells["r"] if k}
    stage_ids = {k for k in cells["s"] if k}
    names = dict(LostReason.objects.filter(pk__in=reason_ids).values_list("pk", "name"))
    names[None] = no_reason
    stage_rows = (
        Stage.objects.filter(pk__in=stage_ids)
        .order_by("pipeline__position", "pipeline__name", "pipeline_id", "position", "pk")
        .values_list("pk", "name", "pipeline_id", "pipeline__name")
    )
    stage_names: dict[int | None, str] = {}
    groups: dict[int | None, LossStageGroup] = {}
    for pk, name, pipeline_id, pipeline in stage_rows:
        stage_names[pk] = f"{name} ({pipeline})"
        group = groups.setdefault(pipeline_id, LossStageGroup(pipeline=pipeline, stages=[]))
        group.stages.append((pk, name))
    stage_names[None] = "—"
    if None in cells["s"]:  # lost from no stage (a stage deleted since): last, on its own
        groups[None] = LossStageGroup(pipeline="", stages=[(None, "—")])
    return LossAnalysis(
        reasons=names,
        stages=stage_names,
        stage_groups=list(groups.values()),
        months=sorted(cells["m"]),
        by_reason_stage=dict(cells["rs"]),
        by_reason_month=dict(cells["rm"]),
        by_reason=dict(cells["r"]),
        by_stage=dict(cells["s"]),
        by_month=dict(cells["m"]),
        total=total,
    )


# --- velocity ------------------------------------------------------------------------------


@dataclass
class Velocity:
    key: int | None
    label: str
    open_count: int = 0
    won: int = 0
    lost: int = 0
    won_value_exact: Decimal = Decimal(0)
    cycle_days_total: float = 0.0

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won + self.lost
        return None if not closed else Decimal(self.won) / closed

    @property
    def average_won(self) -> Decimal | None:
        return None if not self.won else self.won_value_exact / self.won

    @property
    def cycle_days(self) -> float | None:
        return None if not self.won else self.cycle_days_total / self.won

    @property
    def per_day(self) -> Decimal | None:
        """Open deals x win rate x average won value / sales cycle (days)."""
        if not self.won or not self.cycle_days:
            return None
        cycle = Decimal(str(max(self.cycle_days, 1 / 24)))  # a won deal takes at least an hour
        return round_cents(self.open_count * self.win_rate * self.average_won / cycle)

    @property
    def is_small(self) -> bool:
        return self.won + self.lost < SMALL_SAMPLE


def velocity(
    *, user: User, filters: AnalyticsFilters, unassigned: str
) -> tuple[list[Velocity], list[Velocity], Velocity]:
    """Pipeline velocity per team and per rep, and for everyone: open deals (of the cohort,
    now), win rate, average won value and sales cycle of the cohort's closed deals. Four
    queries: outcomes by rep and pipeline, the pipelines' teams, rep names, team names."""
    from accounts.models import Team

    rates = current_rates()
    deals = cohort_deals(user=user, filters=filters)
    by_pair = _outcomes(deals, ("owner_id", "pipeline_id"), rates)
    teams_of = dict(
        Pipeline.objects.filter(pk__in={p for _o, p in by_pair}).values_list("pk", "team_id")
    )
    by_rep: dict = defaultdict(_no_outcome)
    by_team: dict = defaultdict(_no_outcome)
    for (owner_id, pipeline_id), out in by_pair.items():
        _add_outcome(by_rep[owner_id], out)
        _add_outcome(by_team[teams_of[pipeline_id]], out)
    labels = _owner_labels(by_rep)
    team_names = dict(Team.objects.filter(pk__in=list(by_team)).values_list("pk", "name"))

    def build(key, out, label) -> Velocity:
        return Velocity(
            key=key,
            label=label,
            open_count=out["open"],
            won=out["won"],
            lost=out["lost"],
            won_value_exact=out["value"],
            cycle_days_total=out["cycle"],
        )

    reps = [build(k, o, labels.get(k, unassigned) if k else unassigned) for k, o in by_rep.items()]
    teams = [build(k, o, team_names.get(k, "")) for k, o in by_team.items()]
    total = Velocity(key=None, label="")
    for t in teams:
        total.open_count += t.open_count
        total.won += t.won
        total.lost += t.lost
        total.won_value_exact += t.won_value_exact
        total.cycle_days_total += t.cycle_days_total
    reps.sort(key=lambda v: (v.key is None, v.label.lower()))
    teams.sort(key=lambda v: v.label.lower())
    return teams, reps, total


def months_between(start: date, end: date) -> list[date]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months


@dataclass(frozen=True)
class _MonthOf:
    """The month (first day) of a timestamp column, among consecutive `months` (the last
    one's first day ends the range). On PostgreSQL a binary search of the months' starts
    (width_bucket), much cheaper per row than truncating in a time zone; elsewhere
    TruncMonth. `decode` gives the month; before the range, date.min; after, date.max."""

    months: list[date]

    def expression(self, column: str):
        if connection.vendor == "postgresql":
            bounds = [_start_of(m) for m in self.months]
            return Func(
                F(column), Value(bounds), function="width_bucket", output_field=IntegerField()
            )
        return TruncMonth(column, tzinfo=_tz())

    def decode(self, value) -> date:
        if isinstance(value, int):
            if value == 0:
                return date.min
            return self.months[value - 1] if value < len(self.months) else date.max
        return _month(value)


def velocity_trend(*, user: User, filters: AnalyticsFilters, months: list[date]) -> list[Velocity]:
    """Velocity per month of the range: deals open at the month's end (created in or before
    the month, not closed in or before it), and the win rate, average won value and cycle of
    the deals closed in that month. One query: the deals open at some point of the range,
    grouped by the months they were created and closed in, and currency."""
    rates = current_rates()
    # The cohort's narrowing without its period: the period is the trend's axis.
    base = narrowed_deals(user=user, filters=filters)
    ends = [(m + timedelta(days=32)).replace(day=1) for m in months]
    first, last = _start_of(months[0]), _start_of(ends[-1])
    cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    month_of = _MonthOf([*months, ends[-1]])
    spans = (
        base.filter(created_at__lt=last)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=first))
        .annotate(
            created=month_of.expression("created_at"), closed=month_of.expression("closed_at")
        )
        .values("created", "closed", "currency")
        .annotate(
            n=Count("pk"),
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
            won_value=Sum("value", filter=Q(status=DealStatus.WON)),
            cycle=Sum(cycle, filter=Q(status=DealStatus.WON)),
        )
        .order_by()
    )
    trend = {m: Velocity(key=None, label=m.strftime("%Y-%m")) for m in months}
    for span in spans:
        made = month_of.decode(span["created"])
        ended = month_of.decode(span["closed"]) if span["closed"] is not None else None
        for m, point in trend.items():
            if made <= m and (ended is None or ended > m):
                point.open_count += span["n"]
        point = trend.get(ended)
        if point is None:
            continue
        point.won += span["won"]
        point.lost += span["lost"]
        point.won_value_exact += (span["won_value"] or Decimal(0)) * rates[span["currency"]].rate
        point.cycle_days_total += span["cycle"].total_seconds() / 86400 if span["cycle"] else 0.0
    return [trend[m] for m in months]
