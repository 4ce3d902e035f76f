"""Reads for the pipeline analytics pages: funnel, time in stage, reps by stage, loss analysis
and velocity. Everything is computed in SQL from the stage visits (`StageVisit`, derived from
the stage history by `pipeline.services.analytics`: callers refresh it first) and the deals
the user may see (`Deal.objects.visible_to`), a fixed number of queries whatever the number of
deals; Python only shapes the few grouped rows that come back.

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
  now. A deal that moved back has one stay per entry.
- **Rep**: the deal's owner now (ownership history is not recorded), "Unassigned" without one.
- **Win rate**: won / (won + lost) of the cohort's closed deals. **Sales cycle**: average days
  from creation to winning. **Velocity** = open deals x win rate x average won value / sales
  cycle, in reporting currency per day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.models import User
from pipeline.models import Deal, DealStatus, Pipeline, Stage
from pipeline.money import Rate, current_rates, round_cents

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
    import zoneinfo

    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


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


COHORT_COLUMNS = ("id", "owner_id", "status", "closed_at", "lost_from_stage_id", "stage_id")


def _cohort_sql(user: User, filters: AnalyticsFilters) -> tuple[str, list]:
    """The cohort as SQL (id, owner_id, status, closed_at, lost_from_stage_id, stage_id)."""
    qs = cohort_deals(user=user, filters=filters).order_by().values(*COHORT_COLUMNS)
    sql, params = qs.query.sql_with_params()
    return sql, list(params)


def _with(user: User, filters: AnalyticsFilters, *ctes: str) -> tuple[str, list]:
    """`WITH cohort AS (...), <ctes>`: the cohort read once (materialized on PostgreSQL, so
    the planner sees its real size and hash-joins the stage changes to it)."""
    cohort, params = _cohort_sql(user, filters)
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    parts = [f"cohort AS {materialized}({cohort})", *ctes]
    return "WITH " + ",\n".join(parts), params


def _days(later: str, earlier: str) -> str:
    """SQL for the days (fractional, double precision) between two timestamps."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier}))::float8 / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def _db_now(now: datetime):
    return connection.ops.adapt_datetimefield_value(now)


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _stage_ids(stages: list[Stage]) -> str:
    return ", ".join(str(int(s.pk)) for s in stages) or "NULL"


def _stays_cte(stages: list[Stage]) -> str:
    """`stays`: every stay of the cohort's deals in the stages: (owner_id, stage_id, days,
    is_open), from the stage visits (each entry with the deal's next entry, `left_at`).
    Takes one parameter: now."""
    end = "COALESCE(v.left_at, CASE WHEN c.status IN ('won', 'lost') THEN c.closed_at END, %s)"
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    return f"""stays AS {materialized}(
        SELECT c.owner_id, v.stage_id, {_days(end, "v.entered_at")} AS days,
               CASE WHEN v.left_at IS NULL AND c.status NOT IN ('won', 'lost') THEN 1 ELSE 0 END
                   AS is_open
        FROM pipeline_stagevisit v
        JOIN cohort c ON c.id = v.deal_id
        WHERE v.stage_id IN ({_stage_ids(stages)})
    )"""


def _percentiles_select(keys: list[str]) -> str:
    """Per group of `keys` over `stays`: keys, n, summed days, median, 80th percentile, with
    linear interpolation between ranked values (percentile_cont). PostgreSQL has
    percentile_cont; elsewhere ROW_NUMBER and COUNT windows find the two ranks around each
    percentile (integer arithmetic) and interpolate in SQL."""
    k = ", ".join(keys)
    if connection.vendor == "postgresql":
        return f"""SELECT {k}, COUNT(*), SUM(days),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
                percentile_cont(0.8) WITHIN GROUP (ORDER BY days)
            FROM stays GROUP BY {k}"""
    return f"""SELECT {k}, n, total,
            a50 + ((n - 1) %% 2) / 2.0 * (COALESCE(b50, a50) - a50),
            a80 + ((n - 1) * 4 %% 5) / 5.0 * (COALESCE(b80, a80) - a80)
        FROM (
            SELECT {k}, n, total,
                MAX(CASE WHEN rn = (n - 1) / 2 + 1 THEN days END) AS a50,
                MAX(CASE WHEN rn = (n - 1) / 2 + 2 THEN days END) AS b50,
                MAX(CASE WHEN rn = (n - 1) * 4 / 5 + 1 THEN days END) AS a80,
                MAX(CASE WHEN rn = (n - 1) * 4 / 5 + 2 THEN days END) AS b80
            FROM (
                SELECT {k}, days,
                    ROW_NUMBER() OVER (PARTITION BY {k} ORDER BY days) AS rn,
                    COUNT(*) OVER (PARTITION BY {k}) AS n,
                    SUM(days) OVER (PARTITION BY {k}) AS total
                FROM stays
            ) ranked
            WHERE rn IN ((n - 1) / 2 + 1, (n - 1) / 2 + 2, (n - 1) * 4 / 5 + 1,
                         (n - 1) * 4 / 5 + 2)
            GROUP BY {k}, n, total
        ) picked"""


def _stats(row) -> tuple[int, float, float, float]:
    """(n, median, p80, mean) from a percentiles row's last four columns."""
    n, total, median, p80 = row
    return int(n), float(median), float(p80), float(total) / int(n)


def percentile(values: list[float], p: float) -> float | None:
    """percentile_cont in plain Python (used by tests and small lists)."""
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


def _entry_counts_sql(stages: list[Stage], *, by_owner: bool) -> str:
    """Per owner (or overall) and stage: deals that entered it, moved on, were lost there,
    are won, still sit there. One grouped join of the deals' first entries (stage visits)
    to the cohort."""
    stage_ids = _stage_ids(stages)
    owner = "c.owner_id" if by_owner else "0"
    return f"""
        SELECT {owner}, v.stage_id, COUNT(*),
            SUM(CASE WHEN c.status = 'won' OR v.moved_on THEN 1 ELSE 0 END),
            SUM(CASE WHEN c.status = 'lost' AND c.lost_from_stage_id = v.stage_id
                THEN 1 ELSE 0 END),
            SUM(CASE WHEN c.status = 'won' THEN 1 ELSE 0 END),
            SUM(CASE WHEN c.status IN ('open', 'paused') AND c.stage_id = v.stage_id
                THEN 1 ELSE 0 END)
        FROM pipeline_stagevisit v
        JOIN cohort c ON c.id = v.deal_id
        WHERE v.is_first AND v.stage_id IN ({stage_ids})
        GROUP BY {"c.owner_id, " if by_owner else ""}v.stage_id
    """


def _entry_counts(
    user: User, filters: AnalyticsFilters, stages: list[Stage], *, by_owner: bool
) -> dict:
    """{owner_id or 0: {stage_id: (entered, moved_on, lost, won, still_here)}}; one query."""
    if not stages:
        return {}
    head, params = _with(user, filters)
    result: dict = defaultdict(dict)
    for owner_id, stage_id, *values in _fetch(
        head + _entry_counts_sql(stages, by_owner=by_owner), params
    ):
        result[owner_id][stage_id] = tuple(int(v or 0) for v in values)
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


def _bucket_case(column: str) -> str:
    parts = []
    for i, (_low, high) in enumerate(BUCKETS):
        if high is None:
            parts.append(f"ELSE {i}")
        else:
            parts.append(f"WHEN {column} < {high} THEN {i}")
    return "CASE " + " ".join(parts) + " END"


def time_in_stage(
    *, user: User, filters: AnalyticsFilters, pipeline: Pipeline, now: datetime
) -> list[StageTime]:
    """Per stage: how many stays (one per entry), how many still running, median and 80th
    percentile days, and the histogram of stay lengths. Two queries: the stages, and the
    stays (computed once) grouped for percentiles and for the histogram."""
    stages = pipeline_stages(pipeline)
    rows = {s.pk: StageTime(s) for s in stages}
    if not stages:
        return []
    head, params = _with(user, filters, _stays_cte(stages))
    bucket = _bucket_case("days")
    sql = f"""{head}
        SELECT 1, stage_id, bucket, COUNT(*), SUM(is_open), 0
        FROM (SELECT stage_id, is_open, {bucket} AS bucket FROM stays) b
        GROUP BY stage_id, bucket
        UNION ALL
        SELECT 2, p.* FROM ({_percentiles_select(["stage_id"])}) p
    """
    histogram, stats = [], {}
    for kind, stage_id, *rest in _fetch(sql, [*params, _db_now(now)]):
        if kind == 1:
            histogram.append((stage_id, *rest[:3]))
        elif kind == 2:
            stats[(stage_id,)] = _stats(rest)
    for stage_id, bucket, n, open_n in histogram:
        row = rows.get(stage_id)
        if row:
            row.buckets[int(bucket)] += int(n)
            row.open_stays += int(open_n)
    for (stage_id,), (n, median, p80, mean) in stats.items():
        row = rows.get(stage_id)
        if row:
            row.stays, row.median, row.p80, row.mean = int(n), median, p80, mean
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
    deals: QuerySet[Deal], group: str, rates: dict[str, Rate]
) -> dict[object, dict[str, object]]:
    """Per `group` value: won and lost counts, won value (reporting currency, exact), summed
    days from creation to winning, open deals. One grouped query (by group and currency)."""
    cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    rows = (
        deals.values(group, "currency")
        .annotate(
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
            open=Count("pk", filter=Q(status=DealStatus.OPEN)),
            won_value=Sum("value", filter=Q(status=DealStatus.WON)),
            cycle=Sum(cycle, filter=Q(status=DealStatus.WON)),
        )
        .order_by()
    )
    result: dict = defaultdict(
        lambda: {"won": 0, "lost": 0, "open": 0, "value": Decimal(0), "cycle": 0.0}
    )
    for r in rows:
        out = result[r[group]]
        out["won"] += r["won"]
        out["lost"] += r["lost"]
        out["open"] += r["open"]
        out["value"] += (r["won_value"] or Decimal(0)) * rates[r["currency"]].rate
        out["cycle"] += r["cycle"].total_seconds() / 86400 if r["cycle"] else 0.0
    return result


def _owner_labels(ids) -> dict:
    labels = {u.pk: str(u) for u in User.objects.filter(pk__in=[i for i in ids if i])}
    return labels


def reps_by_stage(
    *, user: User, filters: AnalyticsFilters, pipeline: Pipeline, now: datetime, unassigned: str
) -> RepMatrix:
    """A row per rep (deal owner now): per stage, deals that entered it and moved on, and the
    median days of their stays there; per rep, win rate, average won value and sales cycle;
    the team's row the same over everyone. Five queries: stages, entries grouped by rep,
    stay medians by rep and stage and by stage, outcomes by rep and currency, rep names."""
    stages = pipeline_stages(pipeline)
    entries = _entry_counts(user, filters, stages, by_owner=True)
    medians: dict = {}
    team_stays: dict = {}
    if stages:
        head, params = _with(user, filters, _stays_cte(stages))
        sql = f"""{head}
            SELECT 1, p.* FROM ({_percentiles_select(["owner_id", "stage_id"])}) p
            UNION ALL
            SELECT 2, 0, p.* FROM ({_percentiles_select(["stage_id"])}) p
        """
        for kind, owner_id, stage_id, *rest in _fetch(sql, [*params, _db_now(now)]):
            target = medians if kind == 1 else team_stays
            target[(owner_id, stage_id) if kind == 1 else (stage_id,)] = _stats(rest)
    counts = [
        (owner_id, stage_id, *values)
        for owner_id, per_stage in entries.items()
        for stage_id, values in per_stage.items()
        if values[0]
    ]
    rates = current_rates()
    deals = cohort_deals(user=user, filters=filters).filter(pipeline=pipeline)
    outcomes = _outcomes(deals, "owner_id", rates)
    owners = {r[0] for r in counts} | set(outcomes)
    labels = _owner_labels(owners)

    by_owner: dict = defaultdict(dict)
    team_cells = {s.pk: RepCell(s) for s in stages}
    for owner_id, stage_id, entered, moved, *_rest in counts:
        by_owner[owner_id][stage_id] = (int(entered), int(moved))
        team_cells[stage_id].entered += int(entered)
        team_cells[stage_id].moved_on += int(moved)
    for (stage_id,), stat in team_stays.items():
        if stage_id in team_cells:
            team_cells[stage_id].median_days = stat[1]
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
                    median_days=stat[1] if stat else None,
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
class LossAnalysis:
    reasons: dict[int | None, str]
    stages: dict[int | None, str]
    months: list[date]
    by_reason_stage: dict[tuple, LossCell]
    by_reason_month: dict[tuple, LossCell]
    by_reason: dict[int | None, LossCell]
    by_stage: dict[int | None, LossCell]
    by_month: dict[date, LossCell]
    total: LossCell

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
    stage lost from x month of the loss. Two queries: the grouped losses, the reason and
    stage names."""
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
    stage_names = {
        pk: f"{name} ({pipeline})"
        for pk, name, pipeline in Stage.objects.filter(pk__in=stage_ids).values_list(
            "pk", "name", "pipeline__name"
        )
    }
    stage_names[None] = "—"
    return LossAnalysis(
        reasons=names,
        stages=stage_names,
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
    now), win rate, average won value and sales cycle of the cohort's closed deals. Three
    queries: outcomes by rep, by team, and the names."""
    from accounts.models import Team

    rates = current_rates()
    deals = cohort_deals(user=user, filters=filters)
    by_rep = _outcomes(deals, "owner_id", rates)
    by_team = _outcomes(deals, "pipeline__team_id", rates)
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


def velocity_trend(*, user: User, filters: AnalyticsFilters, months: list[date]) -> list[Velocity]:
    """Velocity per month of the range: deals open at the month's end (created before it,
    not closed by then), and the win rate, average won value and cycle of the deals closed in
    that month. Two queries: closings grouped by month and currency, open counts per month
    (one aggregate with a column per month)."""
    rates = current_rates()
    # The cohort's narrowing without its period: the period is the trend's axis.
    base = narrowed_deals(user=user, filters=filters)
    ends = [(m + timedelta(days=32)).replace(day=1) for m in months]
    first, last = _start_of(months[0]), _start_of(ends[-1])
    cycle = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    closed = (
        base.filter(closed_at__gte=first, closed_at__lt=last)
        .annotate(month=TruncMonth("closed_at", tzinfo=_tz()))
        .values("month", "currency")
        .annotate(
            won=Count("pk", filter=Q(status=DealStatus.WON)),
            lost=Count("pk", filter=Q(status=DealStatus.LOST)),
            won_value=Sum("value", filter=Q(status=DealStatus.WON)),
            cycle=Sum(cycle, filter=Q(status=DealStatus.WON)),
        )
        .order_by()
    )
    open_at = base.aggregate(
        **{
            f"m{i}": Count(
                "pk",
                filter=Q(created_at__lt=_start_of(end))
                & (Q(closed_at__isnull=True) | Q(closed_at__gte=_start_of(end))),
            )
            for i, end in enumerate(ends)
        }
    )
    trend = {m: Velocity(key=None, label=m.strftime("%Y-%m")) for m in months}
    for i, m in enumerate(months):
        trend[m].open_count = open_at[f"m{i}"]
    for r in closed:
        point = trend.get(_month(r["month"]))
        if point is None:
            continue
        point.won += r["won"]
        point.lost += r["lost"]
        point.won_value_exact += (r["won_value"] or Decimal(0)) * rates[r["currency"]].rate
        point.cycle_days_total += r["cycle"].total_seconds() / 86400 if r["cycle"] else 0.0
    return [trend[m] for m in months]
