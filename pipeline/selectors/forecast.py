"""Reads for the forecast: the weighted forecast by period and by rep, team, pipeline or stage,
won actuals, targets and coverage, the change since last week's snapshot, the trend, forecast
accuracy and stage calibration. Everything is SQL aggregates over the deals the user may see
(`Deal.objects.visible_to`), a fixed number of queries whatever the number of deals.

Rounding: see pipeline/money.py. Sums are exact per currency and stage in the database; each
figure is converted, weighted and rounded once, to the cent, half up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Round
from django.utils import timezone

from accounts.access import access_for
from accounts.models import Team, User
from crm.organisation import organisation_zone
from pipeline.forecasting import (
    DEFAULT_COUNTS,
    monday,
    period_add,
    period_label,
    period_trunc,
    periods,
)
from pipeline.models import (
    Deal,
    DealStatus,
    ForecastSnapshot,
    ForecastSnapshotRun,
    Pipeline,
    SalesTarget,
    Stage,
    StageChange,
)
from pipeline.money import Rate, current_rates, rates_on, round_cents

GROUPS = ("owner", "stage", "pipeline", "team")
_EXACT = DecimalField(max_digits=30, decimal_places=10)


@dataclass(frozen=True)
class ForecastFilters:
    kind: str = "month"
    start: date | None = None  # first period (today's when None)
    count: int = DEFAULT_COUNTS["month"]
    group: str = "owner"
    pipeline_id: int | None = None
    team_id: int | None = None
    owner_id: int | None = None


@dataclass
class Cell:
    """Exact (unrounded) sums of one row and period; the properties round for display."""

    count: int = 0
    value_exact: Decimal = Decimal(0)
    weighted_exact: Decimal = Decimal(0)
    won_count: int = 0
    won_exact: Decimal = Decimal(0)

    def add(self, other: Cell) -> None:
        self.count += other.count
        self.value_exact += other.value_exact
        self.weighted_exact += other.weighted_exact
        self.won_count += other.won_count
        self.won_exact += other.won_exact

    @property
    def value(self) -> Decimal:
        return round_cents(self.value_exact)

    @property
    def weighted(self) -> Decimal:
        return round_cents(self.weighted_exact)

    @property
    def won(self) -> Decimal:
        return round_cents(self.won_exact)

    @property
    def expected(self) -> Decimal:
        """Weighted open value plus what was already won: what the period should bring."""
        return round_cents(self.weighted_exact + self.won_exact)


@dataclass
class Row:
    key: int | None
    label: str
    cells: dict[date, Cell] = field(default_factory=dict)
    total: Cell = field(default_factory=Cell)
    targets: dict[date, Decimal] = field(default_factory=dict)

    def coverage(self, period: date) -> Decimal | None:
        """(weighted open + won) / target; None without a target."""
        target = self.targets.get(period)
        if not target:
            return None
        cell = self.cells.get(period) or Cell()
        return (cell.weighted_exact + cell.won_exact) / target


@dataclass
class Forecast:
    filters: ForecastFilters
    periods: list[date]
    rows: list[Row]
    totals: dict[date, Cell]
    total: Cell
    earlier: Cell  # open deals whose close date has passed (before the first period)
    later: Cell  # open deals closing after the last period
    no_date: Cell  # open deals without an expected close date
    rates: dict[str, Rate]

    def label(self, period: date) -> str:
        return period_label(period, self.filters.kind)


def _tz():
    return organisation_zone()


def _narrowed(qs: QuerySet, filters: ForecastFilters) -> QuerySet:
    """Deals, or rows about deals (snapshot totals), narrowed to the filters' pipeline, team
    and owner; the rows share those field names."""
    if filters.pipeline_id:
        qs = qs.filter(pipeline_id=filters.pipeline_id)
    if filters.team_id:
        qs = qs.filter(pipeline__team_id=filters.team_id)
    if filters.owner_id:
        qs = qs.filter(owner_id=filters.owner_id)
    return qs


def forecast_deals(*, user: User, filters: ForecastFilters) -> QuerySet[Deal]:
    """The visible deals the forecast is computed from, narrowed by the filters."""
    return _narrowed(Deal.objects.visible_to(user), filters)


def _group_field(group: str) -> str:
    return {
        "owner": "owner_id",
        "stage": "stage_id",
        "pipeline": "pipeline_id",
        "team": "pipeline__team_id",
    }[group]


def _labels(group: str, keys: set) -> dict:
    ids = [k for k in keys if k is not None]
    if group == "owner":
        labels = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)}
        labels[None] = "—"
    elif group == "stage":
        labels = {
            s.pk: f"{s.name} ({s.pipeline.name})"
            for s in Stage.objects.filter(pk__in=ids).select_related("pipeline")
        }
    elif group == "pipeline":
        labels = {p.pk: p.name for p in Pipeline.objects.filter(pk__in=ids)}
    else:
        labels = {t.pk: t.name for t in Team.objects.filter(pk__in=ids)}
    return labels


def forecast_for_user(*, user: User, filters: ForecastFilters, today: date) -> Forecast:
    """The forecast a user may see: per row (rep, stage, pipeline or team) and period, the
    count, value and weighted value of open deals closing then, and the value won then.
    Paused, lost and open-but-unscheduled deals are kept apart. Four queries: open deals
    grouped, won deals grouped, the stages' probabilities, the row labels (+ targets)."""
    rates = current_rates()
    kind = filters.kind
    span = periods(filters.start or today, kind, filters.count)
    first, end = span[0], period_add(span[-1], kind, 1)
    group = _group_field(filters.group)
    deals = forecast_deals(user=user, filters=filters)

    open_rows = (
        deals.filter(status=DealStatus.OPEN)
        .annotate(period=period_trunc("expected_close_date", kind))
        .values("period", group, "stage_id", "currency")
        # COUNT(*), not COUNT(id): every column read is in the open-deals totals index, so
        # the grouping is an index-only scan.
        .annotate(n=Count("*"), total=Sum("value"))
        .order_by()
    )
    won_rows = (
        deals.filter(
            status=DealStatus.WON, closed_at__gte=_start_of(first), closed_at__lt=_start_of(end)
        )
        .annotate(period=period_trunc("closed_at", kind, tzinfo=_tz()))
        .values("period", group, "currency")
        .annotate(n=Count("pk"), total=Sum("value"))
        .order_by()
    )
    open_rows = list(open_rows)
    probability = dict(
        Stage.objects.filter(pk__in={r["stage_id"] for r in open_rows}).values_list(
            "pk", "probability"
        )
    )

    rows: dict = {}
    earlier, later, no_date = Cell(), Cell(), Cell()
    for r in open_rows:
        value = r["total"] * rates[r["currency"]].rate
        cell = Cell(
            count=r["n"],
            value_exact=value,
            weighted_exact=value * probability[r["stage_id"]] / Decimal(100),
        )
        period = _as_date(r["period"])
        if period is None:
            no_date.add(cell)
        elif period < first:
            earlier.add(cell)
        elif period >= end:
            later.add(cell)
        else:
            row = rows.setdefault(r[group], Row(key=r[group], label=""))
            row.cells.setdefault(period, Cell()).add(cell)
    for r in won_rows:
        period = _as_date(r["period"])
        cell = Cell(won_count=r["n"], won_exact=r["total"] * rates[r["currency"]].rate)
        row = rows.setdefault(r[group], Row(key=r[group], label=""))
        row.cells.setdefault(period, Cell()).add(cell)

    labels = _labels(filters.group, set(rows))
    if filters.group == "owner":
        _attach_targets(rows, kind=kind, span=span)
    totals = {p: Cell() for p in span}
    total = Cell()
    for row in rows.values():
        row.label = labels.get(row.key, "—")
        for period, cell in row.cells.items():
            row.total.add(cell)
            totals[period].add(cell)
        total.add(row.total)
    ordered = sorted(rows.values(), key=lambda r: (-r.total.weighted_exact, r.label))
    return Forecast(
        filters=filters,
        periods=span,
        rows=ordered,
        totals=totals,
        total=total,
        earlier=earlier,
        later=later,
        no_date=no_date,
        rates=rates,
    )


def _attach_targets(rows: dict, *, kind: str, span: list[date]) -> None:
    owners = [k for k in rows if k is not None]
    targets = SalesTarget.objects.filter(
        user_id__in=owners, period_kind=kind, period_start__in=span
    ).values_list("user_id", "period_start", "amount")
    for owner_id, start, amount in targets:
        rows[owner_id].targets[start] = amount


def _start_of(day: date):
    from datetime import datetime

    return datetime.combine(day, datetime.min.time(), tzinfo=_tz())


def _as_date(value) -> date | None:
    if value is None:
        return None
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def forecast_cell_deals(
    *, user: User, filters: ForecastFilters, period: date, key: int | None, won: bool = False
) -> QuerySet[Deal]:
    """The deals behind one cell of the table (drill-down)."""
    end = period_add(period, filters.kind, 1)
    deals = forecast_deals(user=user, filters=filters).filter(**{_group_field(filters.group): key})
    if won:
        deals = deals.filter(
            status=DealStatus.WON, closed_at__gte=_start_of(period), closed_at__lt=_start_of(end)
        )
    else:
        deals = deals.filter(
            status=DealStatus.OPEN, expected_close_date__gte=period, expected_close_date__lt=end
        )
    return deals.select_related("company", "owner", "stage", "pipeline").order_by(
        "expected_close_date", "pk"
    )


# --- what changed since last week ---------------------------------------------------------

REASONS = ("new", "moved", "value", "slipped", "won", "lost", "paused")


@dataclass
class Change:
    reason: str
    delta_exact: Decimal = Decimal(0)
    count: int = 0

    @property
    def delta(self) -> Decimal:
        return round_cents(self.delta_exact)


def snapshot_rates(run: ForecastSnapshotRun | None) -> dict | None:
    """The exchange rates the snapshot was taken at (one query), None without a snapshot."""
    return None if run is None else rates_on(timezone.localdate(run.taken_at))


def last_snapshot_run(*, before: date) -> ForecastSnapshotRun | None:
    return ForecastSnapshotRun.objects.filter(week__lt=before).order_by("-week").first()


def changes_since_snapshot(
    *, user: User, filters: ForecastFilters, today: date
) -> tuple[ForecastSnapshotRun | None, dict[date, dict[str, Change]]]:
    """Per period: how the weighted forecast moved since last week's snapshot, and why (new
    deals, moved to another stage, value changed, close date slipped into another period, won,
    lost, paused). A deal counts under one reason: won, lost and paused first, then slipped,
    then moved, then value; an open deal created since the snapshot is new.

    Only deals written since the snapshot can have changed (every change to a deal goes through
    a service that saves it, which sets `updated_at`), so one grouped query starts from those,
    by index (pipeline, updated_at), joins each to its line in the snapshot (unique index on
    run, deal), and classifies and sums them in SQL per reason, period then, period now and
    currency. A change of exchange rates alone is not a deal's change and is not listed. Live
    values are converted once per group (sum of value x probability per currency, times the
    rate), so the figures equal a walk over the deals to the cent."""
    run = last_snapshot_run(before=monday(today) + timedelta(days=1))
    result: dict[date, dict[str, Change]] = defaultdict(dict)
    if run is None:
        return None, result
    rates = current_rates()
    kind = filters.kind
    # "Value changed" compares at the snapshot's rates, as the snapshot rounded it (like the
    # review): a change of exchange rate alone is not a change of the deal.
    at_snapshot = Case(
        *[
            When(currency=currency, then=Value(rate.rate, output_field=_EXACT))
            for currency, rate in snapshot_rates(run).items()
        ],
        output_field=_EXACT,
    )
    now = F("now")
    slipped = (
        Q(was__isnull=True, now__isnull=False)
        | Q(was__isnull=False, now__isnull=True)
        | (Q(was__isnull=False, now__isnull=False) & ~Q(was=now))
    )
    closed = [DealStatus.WON, DealStatus.LOST, DealStatus.PAUSED]
    no_line = Q(line__id__isnull=True)
    rows = (
        forecast_deals(user=user, filters=filters)
        .filter(updated_at__gte=run.taken_at)
        .annotate(line=FilteredRelation("snapshot_lines", condition=Q(snapshot_lines__run=run)))
        .annotate(
            was=period_trunc("line__expected_close_date", kind),
            now=period_trunc("expected_close_date", kind),
            value_gap=Abs(Round(F("value") * at_snapshot, 2) - F("line__value")),
        )
        .annotate(
            reason=Case(
                When(
                    no_line & Q(status=DealStatus.OPEN, created_at__gte=run.taken_at),
                    then=Value("new"),
                ),
                When(no_line | Q(line__status=DealStatus.WON), then=Value("")),
                When(status__in=closed, then=F("status")),
                When(slipped, then=Value("slipped")),
                When(~Q(line__stage_id=F("stage_id")), then=Value("moved")),
                When(value_gap__gte=Decimal("0.005"), then=Value("value")),
                default=Value(""),
                output_field=CharField(),
            )
        )
        .exclude(reason="")
        .values("reason", "was", "now", "currency")
        .annotate(
            n=Count("*"),
            before=Sum("line__weighted"),
            live=Sum(ExpressionWrapper(F("value") * F("stage__probability"), output_field=_EXACT)),
        )
        .order_by()
    )

    def add(period, reason, delta, count):
        if period is None:
            return
        change = result[_as_date(period)].setdefault(reason, Change(reason))
        change.delta_exact += delta
        change.count += count

    for row in rows:
        reason, before = row["reason"], row["before"] or Decimal(0)
        live = row["live"] * rates[row["currency"]].rate / Decimal(100)
        if reason == "new":
            add(row["now"], reason, live, row["n"])
        elif reason == "slipped":
            add(row["was"], reason, -before, row["n"])
            add(row["now"], reason, live, 0)
        elif reason in closed:
            add(row["was"], reason, -before, row["n"])
        else:
            add(row["now"], reason, live - before, row["n"])
    return run, result


def forecast_trend(*, user: User, filters: ForecastFilters, period_list: list[date]):
    """Per period, the weighted forecast in each of the last snapshots (oldest first)."""
    access = access_for(user)
    qs = ForecastSnapshot.objects.filter(period_kind=filters.kind, period_start__in=period_list)
    if not access.is_admin:
        visible_pipelines = Pipeline.objects.visible_to(user).values("pk")
        qs = qs.filter(pipeline_id__in=visible_pipelines)
        if access.own_only_team_ids:
            qs = qs.filter(
                Q(pipeline__team_id__in=access.full_team_ids)
                | Q(owner_id=user.pk)
                | Q(owner__isnull=True)
            )
    qs = _narrowed(qs, filters)
    rows = qs.values("period_start", "week").annotate(w=Sum("weighted")).order_by("week")
    trend: dict[date, list[tuple[date, Decimal]]] = defaultdict(list)
    for r in rows:
        trend[r["period_start"]].append((r["week"], r["w"]))
    return trend


# --- accuracy and calibration -------------------------------------------------------------


@dataclass
class Accuracy:
    owner_id: int | None
    label: str
    period: date
    actual: Decimal
    forecast_1: Decimal | None  # weighted forecast in the snapshot 1 week before the period
    forecast_4: Decimal | None

    @staticmethod
    def _ratio(actual, forecast):
        return None if not forecast else actual / forecast

    @property
    def accuracy_1(self):
        return self._ratio(self.actual, self.forecast_1)

    @property
    def accuracy_4(self):
        return self._ratio(self.actual, self.forecast_4)

    @property
    def bias_1(self):
        return None if self.forecast_1 is None else self.forecast_1 - self.actual


def forecast_accuracy(
    *, user: User, filters: ForecastFilters, today: date, count: int = 6
) -> list[Accuracy]:
    """For each rep and each of the last `count` closed periods: won value in the period
    divided by the weighted forecast for that period in the snapshot taken 1 and 4 weeks before
    it began; bias = forecast - actual (positive: the rep forecast too much)."""
    kind = filters.kind
    last_closed = period_add(periods(today, kind, 1)[0], kind, -1)
    closed = [period_add(last_closed, kind, -i) for i in range(count)][::-1]
    won = (
        forecast_deals(user=user, filters=filters)
        .filter(
            status=DealStatus.WON,
            closed_at__gte=_start_of(closed[0]),
            closed_at__lt=_start_of(period_add(closed[-1], kind, 1)),
        )
        .annotate(period=period_trunc("closed_at", kind, tzinfo=_tz()))
        .values("period", "owner_id", "currency")
        .annotate(total=Sum("value"))
        .order_by()
    )
    rates = current_rates()
    actual: dict = defaultdict(Decimal)
    for r in won:
        actual[(r["owner_id"], _as_date(r["period"]))] += r["total"] * rates[r["currency"]].rate
    weeks = {p: (monday(p) - timedelta(weeks=1), monday(p) - timedelta(weeks=4)) for p in closed}
    snap = (
        ForecastSnapshot.objects.filter(
            period_kind=kind,
            period_start__in=closed,
            week__in={w for pair in weeks.values() for w in pair},
            pipeline_id__in=forecast_deals(user=user, filters=filters)
            .values("pipeline_id")
            .distinct(),
        )
        .values("owner_id", "period_start", "week")
        .annotate(w=Sum("weighted"))
    )
    forecast: dict = {}
    for r in snap:
        forecast[(r["owner_id"], r["period_start"], r["week"])] = r["w"]
    owners = {k[0] for k in actual} | {k[0] for k in forecast}
    labels = _labels("owner", owners)
    result = []
    for owner in sorted(owners, key=lambda o: labels.get(o, "")):
        for period in closed:
            week_1, week_4 = weeks[period]
            result.append(
                Accuracy(
                    owner_id=owner,
                    label=labels.get(owner, "—"),
                    period=period,
                    actual=round_cents(actual.get((owner, period), Decimal(0))),
                    forecast_1=forecast.get((owner, period, week_1)),
                    forecast_4=forecast.get((owner, period, week_4)),
                )
            )
    return result


@dataclass
class Calibration:
    stage: Stage
    entered_closed: int  # deals that entered the stage and are now closed
    won: int

    PRIOR_WEIGHT = 5  # the configured value counts as this many deals

    @property
    def observed(self) -> Decimal | None:
        return None if not self.entered_closed else Decimal(100 * self.won) / self.entered_closed

    @property
    def suggested(self) -> int:
        """The observed rate pulled towards the configured one while the sample is small,
        rounded to 5 %."""
        k = self.PRIOR_WEIGHT
        blended = (100 * self.won + self.stage.probability * k) / (self.entered_closed + k)
        return max(0, min(100, int(5 * round(blended / 5))))


def stage_calibration(*, user: User, pipeline: Pipeline) -> list[Calibration]:
    """Per stage of the pipeline: of the visible deals that ever entered it and are now closed,
    how many were won, beside the configured probability. One query."""
    visible_closed = Deal.objects.visible_to(user).filter(
        pipeline=pipeline, status__in=[DealStatus.WON, DealStatus.LOST]
    )
    rows = (
        StageChange.objects.filter(to_stage__pipeline=pipeline, deal__in=visible_closed)
        .values("to_stage_id")
        .annotate(
            n=Count("deal_id", distinct=True),
            won=Count("deal_id", distinct=True, filter=Q(deal__status=DealStatus.WON)),
        )
        .order_by()
    )
    counts = {r["to_stage_id"]: (r["n"], r["won"]) for r in rows}
    return [
        Calibration(
            stage=s, entered_closed=counts.get(s.pk, (0, 0))[0], won=counts.get(s.pk, (0, 0))[1]
        )
        for s in pipeline.stages.active().order_by("position", "pk")
    ]
