"""Reads for the manager's weekly review (`/review/`): the team under review, its sections
(closing soon, no movement, no or overdue next step, changes since last week's snapshot), the
review progress and single rows for the in-place actions.

Everything starts from `Deal.objects.visible_to(user)`, restricted to the team's pipelines, so
a salesperson who opens the page sees exactly the deals the board shows them. The page costs
a fixed number of queries whatever the number of deals: each section is one capped query
(company, owner, stage, pipeline and the kept next step joined), and all counts and the
progress come from one aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, connections
from django.db.models import (
    BooleanField,
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Round
from django.db.models.lookups import IsNull
from django.http import Http404
from django.utils import timezone

from accounts.access import access_for
from accounts.models import Team, User
from pipeline.forecasting import monday
from pipeline.models import (
    Deal,
    DealReview,
    DealStatus,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    Stage,
)
from pipeline.selectors.board import DEAL_LINE_FIELDS
from pipeline.selectors.forecast import snapshot_rates

# Rows per section on the page: what a weekly meeting gets through; the rest are counted and
# linked to the boards. (50 per section made a 750 KB page that took ~170 ms to render.)
ROW_LIMIT = 20
MONEY = DecimalField(max_digits=18, decimal_places=2)
SOON_DAYS = 14  # "closing in the next 2 weeks"
LATER_DAYS = 28  # "closing in weeks 3-4"

# Section keys double as DOM id parts (`review-stale-12`) and the `section` parameter.
SECTIONS = ("closing-soon", "closing-later", "stale", "next-step", "changes")

# The columns a row shows; everything else stays in the database.
ROW_FIELDS = (
    *DEAL_LINE_FIELDS,
    "created_at",
    "updated_at",
    "paused_until",
    "lost_reason_id",
    "lost_reason__name",
    "stage__position",
    "pipeline__name",
    "pipeline__team_id",
)


# --- the team -----------------------------------------------------------------------------


def review_teams_for_user(*, user: User) -> list[Team]:
    """Teams whose review the user may open, managed teams first (one query)."""
    access = access_for(user)
    teams = Team.objects.all() if access.is_admin else Team.objects.filter(pk__in=access.team_ids)
    return sorted(teams, key=lambda t: (not access.manages_team(t.pk), t.name, t.pk))


def review_team_for_user(*, teams: list[Team], team_id: int | None) -> Team:
    """The team asked for (404 when the user can't see it), else the first one the user
    manages, else the first they belong to."""
    if team_id is None:
        if not teams:
            raise Http404
        return teams[0]
    for team in teams:
        if team.pk == team_id:
            return team
    raise Http404


# --- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewClock:
    """Today and now in the organisation's time zone, and the week the marks belong to."""

    today: date
    now: datetime

    @property
    def week(self) -> date:
        return monday(self.today)

    @classmethod
    def current(cls) -> ReviewClock:
        return cls(today=timezone.localdate(), now=timezone.now())


def _section_conditions(clock: ReviewClock, run: ForecastSnapshotRun | None) -> dict[str, Q]:
    """Each section as a condition on the deals (those of "changes" need `_with_snapshot`)."""
    is_open = Q(status=DealStatus.OPEN)
    soon = clock.today + timedelta(days=SOON_DAYS)
    later = clock.today + timedelta(days=LATER_DAYS)
    conditions = {
        # Overdue close dates are the most urgent of all: they belong to the first section.
        "closing-soon": is_open & Q(expected_close_date__lte=soon),
        "closing-later": is_open & Q(expected_close_date__gt=soon, expected_close_date__lte=later),
        "stale": is_open & Q(rots_at__lt=clock.now),
        "next-step": is_open & (Q(next_step__isnull=True) | Q(next_step_due__lt=clock.today)),
    }
    if run is not None:
        conditions["changes"] = _changed_since(run)
    return conditions


def _differs(field: str, other) -> Q:
    """field <> other, written without NOT (whose NULL handling Django spells out)."""
    return Q(**{f"{field}__lt": other}) | Q(**{f"{field}__gt": other})


def _changed_since(run: ForecastSnapshotRun) -> Q:
    """Deals that changed since the snapshot: created after it, or - compared with their
    snapshot line - closed or paused, moved to another stage, changed in value, or with a
    close date that slipped. Each test of the deal's line is a probe of the (run, deal) unique
    index, so an unchanged deal costs one index lookup; cheap column tests come first."""
    line = ForecastSnapshotLine.objects.filter(run_id=run.pk, deal_id=OuterRef("pk"))
    changed_line = line.filter(
        _differs("stage_id", OuterRef("stage_id"))
        | _differs("value", OuterRef("value_at_snapshot"))
        | Q(expected_close_date__lt=OuterRef("expected_close_date"))
    )
    return Q(updated_at__gte=run.taken_at) & (
        Q(created_at__gte=run.taken_at) & _line_missing(line)
        | ~Q(status=DealStatus.OPEN) & _line_found(line)
        | Q(expected_close_date__isnull=True)
        & _line_found(line.filter(expected_close_date__isnull=False))
        | _line_found(changed_line)
    )


# Whether the deal's snapshot line (a correlated query on the unique index) exists, written as
# a scalar subquery rather than EXISTS: PostgreSQL may turn an EXISTS under OR into a "hashed
# SubPlan" that reads every line of the run, i.e. every open deal of the organisation when the
# snapshot was taken (110k lines, 2 x 12 ms at make bench's review; 1M in a big install), where
# the few hundred deals changed this week need a probe each. A scalar subquery is probed per row.
def _line_found(lines: QuerySet) -> IsNull:
    return IsNull(Subquery(lines.values("pk")[:1]), False)


def _line_missing(lines: QuerySet) -> IsNull:
    return IsNull(Subquery(lines.values("pk")[:1]), True)


def _at_snapshot_rates(qs: QuerySet[Deal], rates: dict | None) -> QuerySet[Deal]:
    """The deal's value now at the snapshot's rates (as the snapshot rounded it), so a change
    of exchange rate alone is not a change of the deal."""
    if rates is None:
        return qs
    converted = Case(
        *[
            When(currency=currency, then=F("value") * Value(rate.rate, output_field=MONEY))
            for currency, rate in rates.items()
        ],
        default=F("value"),
        output_field=DecimalField(max_digits=30, decimal_places=10),
    )
    return qs.annotate(value_at_snapshot=Round(converted, 2, output_field=MONEY))


def _with_snapshot(qs: QuerySet[Deal], run: ForecastSnapshotRun) -> QuerySet[Deal]:
    """Each deal's line in the snapshot (status, stage, close date, value), for the rows of
    the changes section only: four index lookups per row shown."""
    line = ForecastSnapshotLine.objects.filter(run_id=run.pk, deal_id=OuterRef("pk"))
    return qs.annotate(
        snap_status=Subquery(line.values("status")[:1]),
        snap_stage=Subquery(line.values("stage_id")[:1]),
        snap_close=Subquery(line.values("expected_close_date")[:1]),
        snap_value=Subquery(line.values("value")[:1]),
    )


def _reviewed(week: date) -> Exists:
    return Exists(DealReview.objects.filter(deal_id=OuterRef("pk"), week=week))


# --- the page -----------------------------------------------------------------------------


@dataclass
class Section:
    key: str
    rows: list[Deal]
    count: int

    @property
    def more(self) -> int:
        return max(self.count - len(self.rows), 0)


@dataclass
class Review:
    team: Team
    clock: ReviewClock
    run: ForecastSnapshotRun | None
    stages: dict[int, Stage]
    sections: dict[str, Section] = field(default_factory=dict)
    total: int = 0
    reviewed: int = 0
    can_manage: bool = False

    @property
    def pipelines(self) -> list:
        seen = {}
        for stage in self.stages.values():
            seen.setdefault(stage.pipeline_id, stage.pipeline)
        return list(seen.values())


def team_stages(*, team: Team) -> dict[int, Stage]:
    """The stages of the team's active pipelines, in board order, with their pipeline."""
    stages = (
        Stage.objects.active()
        .filter(pipeline__team_id=team.pk, pipeline__is_archived=False)
        .select_related("pipeline")
        .order_by("pipeline__position", "pipeline__name", "pipeline_id", "position", "pk")
    )
    return {stage.pk: stage for stage in stages}


def previous_stages(stages: dict[int, Stage]) -> dict[int, Stage]:
    """For each stage, the one before it in its pipeline (the first stage has none)."""
    previous, last_of = {}, {}
    for stage in stages.values():  # in board order
        before = last_of.get(stage.pipeline_id)
        if before is not None:
            previous[stage.pk] = before
        last_of[stage.pipeline_id] = stage
    return previous


def last_snapshot(*, clock: ReviewClock) -> ForecastSnapshotRun | None:
    """Last week's snapshot: the latest taken for a week up to this one (the Monday run)."""
    return ForecastSnapshotRun.objects.filter(week__lte=clock.week).order_by("-week").first()


def _team_deals(*, user: User, stages: dict[int, Stage]) -> QuerySet[Deal]:
    pipeline_ids = {stage.pipeline_id for stage in stages.values()}
    return Deal.objects.visible_to(user).filter(pipeline_id__in=pipeline_ids)


def _row_query(qs: QuerySet[Deal], *, clock: ReviewClock) -> QuerySet[Deal]:
    return (
        qs.select_related(
            "company", "owner", "next_step_assignee", "stage", "pipeline", "lost_reason"
        )
        .only(*ROW_FIELDS)
        .annotate(is_reviewed=_reviewed(clock.week))
    )


def _decorate(deals: list[Deal], *, user: User, review: Review) -> None:
    """What each row shows beyond the deal's own fields: the previous stage (for "move back"),
    whether the user may act on it, why it is stale, and what changed since the snapshot."""
    previous = previous_stages(review.stages)
    access = access_for(user)
    for deal in deals:
        _decorate_one(deal, user=user, review=review, previous=previous, access=access)


def _decorate_one(deal: Deal, *, user: User, review: Review, previous, access) -> None:
    clock = review.clock
    deal.previous_stage = previous.get(deal.stage_id)
    manages = access.manages_team(deal.pipeline.team_id)
    deal.can_manage = manages
    deal.can_edit = manages or deal.owner_id in (None, user.pk)
    deal.close_is_past = bool(
        deal.is_open and deal.expected_close_date and deal.expected_close_date < clock.today
    )
    deal.close_overdue_days = (
        (clock.today - deal.expected_close_date).days if deal.close_is_past else 0
    )
    deal.stale_days = None
    if deal.is_stale_at(clock.now):
        deal.stale_days = max((clock.now - deal.last_movement_at).days, 0)
    deal.step_overdue = deal.next_step_is_overdue(clock.today)
    deal.changes = _changes_of(deal, review=review)
    deal.status_changed = any(change.kind == deal.status for change in deal.changes)


@dataclass(frozen=True)
class DealChange:
    kind: str  # new, won, lost, paused, moved, value, slipped
    before: object = None
    after: object = None


def _changes_of(deal: Deal, *, review: Review) -> list[DealChange]:
    run = review.run
    if run is None or not hasattr(deal, "snap_status"):
        return []
    if deal.snap_status is None:
        return [DealChange("new")] if deal.created_at >= run.taken_at else []
    changes = []
    if deal.status != DealStatus.OPEN:
        changes.append(DealChange(deal.status))
    if deal.stage_id != deal.snap_stage:
        before = review.stages.get(deal.snap_stage)
        changes.append(DealChange("moved", before.name if before else "?", deal.stage.name))
    if deal.snap_value != deal.value_at_snapshot:
        changes.append(DealChange("value", deal.snap_value, deal.value_at_snapshot))
    if deal.snap_close and (
        deal.expected_close_date is None or deal.expected_close_date > deal.snap_close
    ):
        changes.append(DealChange("slipped", deal.snap_close, deal.expected_close_date))
    return changes


def _first_ids_per_section(parts: dict[str, QuerySet[Deal]]) -> dict[str, list[int]]:
    """The ids of each section's first rows in one round trip: a UNION ALL of lean per-section
    scans (ORDER BY and LIMIT on the deal table alone, no joins), each wrapped as a derived
    table (the ORM refuses sliced parts in a compound query on some backends)."""
    keys = list(parts)
    sql_parts, params = [], []
    for i, key in enumerate(keys):
        sql, part_params = parts[key].values_list("pk").query.sql_with_params()
        sql_parts.append(f"SELECT {i} AS section, part_{i}.* FROM ({sql}) AS part_{i}")
        params.extend(part_params)
    ids: dict[str, list[int]] = {key: [] for key in keys}
    if not sql_parts:
        return ids
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(sql_parts), params)
        for section, pk in cursor.fetchall():
            ids[keys[section]].append(pk)
    return ids


FAR = datetime.max.replace(tzinfo=UTC)

# The order of each section's rows, in the database (first page) and again in Python (the
# UNION ALL does not promise to keep each part's order).
SECTION_ORDER = {
    "closing-soon": ("expected_close_date", "pk"),
    "closing-later": ("expected_close_date", "pk"),
    "stale": ("rots_at", "pk"),  # longest without movement first
    "next-step": (F("next_step_due").asc(nulls_first=True), "pk"),  # none, then most overdue
    "changes": ("-updated_at", "-pk"),
}
SECTION_SORT = {
    "closing-soon": lambda d: (d.expected_close_date, d.pk),
    "closing-later": lambda d: (d.expected_close_date, d.pk),
    "stale": lambda d: (d.rots_at or FAR, d.pk),
    "next-step": lambda d: (d.next_step_due is not None, d.next_step_due or date.min, d.pk),
    "changes": lambda d: (-d.updated_at.timestamp(), -d.pk),
}


def _review_start(*, user: User, team: Team, clock: ReviewClock):
    """The review without its sections yet, and what the sections are read from: the team's
    visible deals valued at the snapshot's rates, each section's condition, the rates.
    Queries: the stages (with pipelines), the last snapshot, its exchange rates."""
    stages = team_stages(team=team)
    run = last_snapshot(clock=clock)
    review = Review(
        team=team,
        clock=clock,
        run=run,
        stages=stages,
        can_manage=access_for(user).manages_team(team.pk),
    )
    review.sections = {key: Section(key, [], 0) for key in SECTIONS}
    if not stages:
        return review, None, {}, None
    rates = snapshot_rates(run)
    deals = _at_snapshot_rates(_team_deals(user=user, stages=stages), rates)
    return review, deals, _section_conditions(clock, run), rates


def _rows_by_id(wanted: set[int], *, user: User, review: Review, rates) -> dict[int, Deal]:
    """The rows of `wanted` deals with everything a row shows (one query)."""
    qs = _row_query(Deal.objects.filter(pk__in=wanted), clock=review.clock)
    if review.run is not None:
        qs = _with_snapshot(_at_snapshot_rates(qs, rates), review.run)
    rows = {deal.pk: deal for deal in qs.order_by()}
    _decorate(list(rows.values()), user=user, review=review)
    return rows


def review_for_team(*, user: User, team: Team, clock: ReviewClock) -> Review:
    """The review page of one team, in six queries whatever the number of deals: the stages
    (with pipelines), the last snapshot, its exchange rates (when there is one), one
    aggregate for every count and the progress, the ids of each section's first rows (one
    UNION ALL), and those rows with company, owner, stage, pipeline, next step assignee, lost
    reason, review mark and snapshot line."""
    review, deals, conditions, rates = _review_start(user=user, team=team, clock=clock)
    if deals is None:
        return review
    counts = _counts(deals, conditions=conditions, clock=clock)
    review.total, review.reviewed = counts["total"], counts["reviewed"]
    ids = _first_ids_per_section(
        {
            key: deals.filter(condition).order_by(*SECTION_ORDER[key])[:ROW_LIMIT]
            for key, condition in conditions.items()
            if counts[key]
        }
    )
    wanted = {pk for section_ids in ids.values() for pk in section_ids}
    if not wanted:
        return review
    rows = _rows_by_id(wanted, user=user, review=review, rates=rates)
    for key, section_ids in ids.items():
        section_rows = sorted((rows[pk] for pk in section_ids if pk in rows), key=SECTION_SORT[key])
        review.sections[key] = Section(key, section_rows, counts[key])
    return review


@dataclass
class SectionPage:
    """One page of a section's rows beyond the review's first page (`number` from 1)."""

    review: Review
    section: Section
    number: int
    pages: int
    clamped: bool = False  # the page asked for was past the last one

    @property
    def next_number(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None

    @property
    def previous_number(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def shown_until(self) -> int:
        """How many rows the section has shown up to the end of this page."""
        return min(self.number * ROW_LIMIT, self.section.count)

    @property
    def more_after(self) -> int:
        return max(self.section.count - self.shown_until, 0)


def review_section_page(
    *, user: User, team: Team, clock: ReviewClock, key: str, number: int
) -> SectionPage:
    """Page `number` of one section, ROW_LIMIT rows a page in the section's order (page 1
    is what the review shows first). A page past the last is the last page (`clamped`).
    Queries: stages, snapshot, rates, the section's count, the page's ids, its rows."""
    review, deals, conditions, rates = _review_start(user=user, team=team, clock=clock)
    empty = SectionPage(review, Section(key, [], 0), 1, 1, clamped=number > 1)
    if deals is None or key not in conditions:
        return empty
    section_deals = deals.filter(conditions[key])
    count = section_deals.count()
    pages = max(1, -(-count // ROW_LIMIT))
    page = min(number, pages)
    offset = (page - 1) * ROW_LIMIT
    ids = list(
        section_deals.order_by(*SECTION_ORDER[key]).values_list("pk", flat=True)[
            offset : offset + ROW_LIMIT
        ]
    )
    rows = _rows_by_id(set(ids), user=user, review=review, rates=rates) if ids else {}
    section_rows = sorted((rows[pk] for pk in ids if pk in rows), key=SECTION_SORT[key])
    section = Section(key, section_rows, count)
    review.sections[key] = section
    return SectionPage(review, section, page, pages, clamped=number > pages)


def _counts(deals: QuerySet[Deal], *, conditions: dict[str, Q], clock: ReviewClock) -> dict:
    """Every section's count, and the progress: of the distinct deals in any section or
    already reviewed this week (so fixing a deal doesn't shrink the meeting's total), how many
    are reviewed. One statement: an inner query reads each condition once per deal as a
    boolean column (where OuterRef resolves), an outer one counts them with FILTER. (Counting
    with the ORM's aggregate() inlined every condition once per FILTER that named it, so the
    "changes" EXISTS subqueries were planned and compiled three times and the aggregate's
    compile alone cost more than its SQL.)"""
    names = {key: f"in_{key.replace('-', '_')}" for key in conditions}
    flags = {
        names[key]: ExpressionWrapper(condition, output_field=BooleanField())
        for key, condition in conditions.items()
    }
    # The week's marks as a LEFT JOIN (one row per deal and week at most), not a subquery
    # per deal.
    this_week = FilteredRelation("reviews", condition=Q(reviews__week=clock.week))
    marked = ExpressionWrapper(Q(this_week__isnull=False), output_field=BooleanField())
    inner = (
        deals.annotate(this_week=this_week, is_reviewed=marked, **flags)
        .order_by()
        .values_list(*names.values(), "is_reviewed")
    )
    sql, params = inner.query.sql_with_params()
    database = connections[inner.db]
    quote = database.ops.quote_name
    # A NULL condition (no close date) counts as false, as FILTER (WHERE NULL) does.
    any_of = " OR ".join(f"d.{quote(name)}" for name in [*names.values(), "is_reviewed"])
    columns = [f"COUNT(*) FILTER (WHERE d.{quote(name)})" for name in names.values()]
    columns += [
        f"COUNT(*) FILTER (WHERE {any_of})",
        f"COUNT(*) FILTER (WHERE d.{quote('is_reviewed')})",
    ]
    # OFFSET 0 keeps PostgreSQL from pulling the inner query up and copying each condition
    # back into every FILTER that names it.
    fence = " OFFSET 0" if database.vendor == "postgresql" else ""
    with database.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM ({sql}{fence}) AS d", params)
        row = cursor.fetchone()
    return dict(zip([*conditions, "total", "reviewed"], row, strict=True))


@dataclass(frozen=True)
class Progress:
    team: Team
    total: int
    reviewed: int


def review_progress(*, user: User, team: Team, clock: ReviewClock) -> Progress:
    """The progress line alone, after a deal was marked (stages, snapshot, rates, counts)."""
    stages = team_stages(team=team)
    if not stages:
        return Progress(team, 0, 0)
    run = last_snapshot(clock=clock)
    deals = _at_snapshot_rates(_team_deals(user=user, stages=stages), snapshot_rates(run))
    counts = _counts(deals, conditions=_section_conditions(clock, run), clock=clock)
    return Progress(team, counts["total"], counts["reviewed"])


def review_row(*, user: User, pk: int, clock: ReviewClock) -> tuple[Deal, Review]:
    """One row as the page shows it, after an action: 404 when the deal is not visible. The
    `Review` carries what the row needs (stages for "move back", the snapshot for changes).
    Queries: the snapshot, its rates, the row, the team and its stages."""
    run = last_snapshot(clock=clock)
    qs = _row_query(Deal.objects.visible_to(user).filter(pk=pk), clock=clock)
    if run is not None:
        qs = _with_snapshot(_at_snapshot_rates(qs, snapshot_rates(run)), run)
    deal = qs.order_by().first()
    if deal is None:
        raise Http404
    team = Team.objects.get(pk=deal.pipeline.team_id)
    review = Review(team=team, clock=clock, run=run, stages=team_stages(team=team))
    _decorate([deal], user=user, review=review)
    return deal, review
