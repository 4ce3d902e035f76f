"""The board: pipelines and stages a user may see, its columns with their first cards and
kept totals, the next cards as a column scrolls, the closed and paused deals beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404
from django.utils import timezone

from accounts.access import access_for
from accounts.models import User
from pipeline.models import (
    Deal,
    DealStatus,
    ExitCriterion,
    Flag,
    FlagKind,
    Pipeline,
    Stage,
    StageTotal,
)
from pipeline.money import sum_in_reporting

# The columns every list of deals (board cards, review rows) reads: the deal's own, its
# company, owner and next step; each list adds its own.
DEAL_LINE_FIELDS = (
    "id",
    "title",
    "value",
    "currency",
    "status",
    "expected_close_date",
    "version",
    "stage_id",
    "pipeline_id",
    "owner_id",
    "company_id",
    "company__name",
    "company__tier",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
    "next_step_id",
    "next_step_subject",
    "next_step_due",
    "next_step_assignee_id",
    "next_step_assignee__first_name",
    "next_step_assignee__last_name",
    "next_step_assignee__username",
    "last_movement_at",
    "rots_at",
    "stage__name",
    "stage__rot_days",
)

# Columns the card needs; everything else stays in the database.
CARD_FIELDS = (*DEAL_LINE_FIELDS, "stage_entered_at", "position", "needs_attention")


def pipeline_get_for_user(*, user: User, pk: int) -> Pipeline:
    """The pipeline, or 404 when it does not exist or belongs to a team the user can't see."""
    pipeline = Pipeline.objects.visible_to(user).filter(pk=pk).first()
    if pipeline is None:
        raise Http404
    return pipeline


def pipelines_for_user(*, user: User) -> QuerySet[Pipeline]:
    return Pipeline.objects.visible_to(user).active().select_related("team")


def default_pipeline_for_user(*, user: User) -> Pipeline | None:
    return pipelines_for_user(user=user).first()


def stage_get_for_user(*, user: User, pk: int, pipeline: Pipeline | None = None) -> Stage:
    qs = Stage.objects.visible_to(user).active().select_related("pipeline")
    if pipeline is not None:
        qs = qs.filter(pipeline=pipeline)
    stage = qs.filter(pk=pk).first()
    if stage is None:
        raise Http404
    return stage


def can_manage_pipeline(*, user: User, pipeline: Pipeline) -> bool:
    """Managers of the pipeline's team and admins: they reassign and delete its deals."""
    return access_for(user).manages_team(pipeline.team_id)


@dataclass(frozen=True)
class BoardFilters:
    """Validated board filters: owner is "any", "me", "none" or a user id; q is search text;
    tiers is a sorted tuple of company tiers (A/B/C; empty: any)."""

    owner: str = "any"
    q: str = ""
    attention: bool = False
    tiers: tuple[str, ...] = ()

    def apply(self, qs: QuerySet[Deal], *, user: User) -> QuerySet[Deal]:
        if self.owner == "me":
            qs = qs.filter(owner_id=user.pk)
        elif self.owner == "none":
            qs = qs.filter(owner__isnull=True)
        elif self.owner != "any":
            qs = qs.filter(owner_id=int(self.owner))
        if self.q:
            qs = qs.filter(Q(title__icontains=self.q) | Q(company__name__icontains=self.q))
        if self.attention:
            qs = qs.filter(needs_attention=True)
        if self.tiers:
            qs = qs.filter(company__tier__in=self.tiers)
        return qs

    @property
    def is_active(self) -> bool:
        return self.owner != "any" or bool(self.q) or self.attention or bool(self.tiers)

    def as_query(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs (a key repeats for several tiers)."""
        query = []
        if self.owner != "any":
            query.append(("owner", self.owner))
        if self.q:
            query.append(("q", self.q))
        if self.attention:
            query.append(("attention", "1"))
        query += [("tier", tier) for tier in self.tiers]
        return query


@dataclass
class StageTotals:
    count: int = 0
    value: Decimal = Decimal("0.00")
    weighted: Decimal = Decimal("0.00")
    attention: int = 0  # open deals with an open flag


@dataclass
class Column:
    stage: Stage
    totals: StageTotals
    cards: list[Deal] = field(default_factory=list)
    has_more: bool = False

    @property
    def last_card(self) -> Deal | None:
        return self.cards[-1] if self.cards else None


def _board_deals(*, pipeline: Pipeline, user: User, filters: BoardFilters) -> QuerySet[Deal]:
    qs = Deal.objects.visible_to(user).filter(pipeline_id=pipeline.pk, status=DealStatus.OPEN)
    return filters.apply(qs, user=user)


def _sees_whole_pipeline(*, user: User, pipeline: Pipeline) -> bool:
    access = access_for(user)
    return access.is_admin or pipeline.team_id in access.full_team_ids


def stage_totals(
    *,
    pipeline: Pipeline,
    stages: list[Stage],
    user: User,
    filters: BoardFilters,
    kept: list[dict] | None = None,
) -> dict[int, StageTotals]:
    """Count, value and weighted value per stage in the reporting currency, in one query.

    When the user sees every deal of the pipeline and no filter is set, the visible deals are
    exactly the stage's open deals, so the totals come from the maintained StageTotal rows
    (a few rows instead of an aggregate over every deal; none when the caller has them already
    as `kept`, as a move does); otherwise they are aggregated from the same filtered, visible
    deals the board shows.
    """
    stage_ids = [s.pk for s in stages]
    if not filters.is_active and _sees_whole_pipeline(user=user, pipeline=pipeline):
        if kept is None:
            kept = StageTotal.objects.filter(stage_id__in=stage_ids).values(
                "stage_id", "currency", n=F("count"), total=F("value"), flagged=F("attention")
            )
        rows = kept
    else:
        rows = (
            _board_deals(pipeline=pipeline, user=user, filters=filters)
            .filter(stage_id__in=stage_ids)
            .values("stage_id", "currency")
            .annotate(
                n=Count("pk"),
                total=Sum("value"),
                flagged=Count("pk", filter=Q(needs_attention=True)),
            )
            .order_by()
        )
    per_stage: dict[int, list] = {}
    for row in rows:
        per_stage.setdefault(row["stage_id"], []).append(row)
    totals = {}
    for stage in stages:
        stage_rows = per_stage.get(stage.pk, [])
        value = sum_in_reporting((r["total"], r["currency"]) for r in stage_rows)
        weighted = sum_in_reporting(
            (r["total"] * stage.probability / Decimal(100), r["currency"]) for r in stage_rows
        )
        totals[stage.pk] = StageTotals(
            count=sum(r["n"] for r in stage_rows),
            value=value,
            weighted=weighted,
            attention=sum(r["flagged"] for r in stage_rows),
        )
    return totals


def _flag_since(kind: str) -> Subquery:
    return Subquery(
        Flag.objects.filter(deal_id=OuterRef("pk"), kind=kind, resolved_at__isnull=True).values(
            "raised_at"
        )[:1]
    )


# The card's annotation saying since when each kind of flag has been open (None: not open).
FLAG_SINCE = {
    FlagKind.NO_NEXT_STEP: "no_next_step_since",
    FlagKind.OVERDUE_NEXT_STEP: "overdue_since",
    FlagKind.STALE: "stale_since",
}


def card_flag_annotations() -> dict[str, Subquery]:
    """Since when each open flag of a deal has been up, for its card (and for the move, which
    reads them with its lock to resolve what the move fixed)."""
    return {name: _flag_since(kind) for kind, name in FLAG_SINCE.items()}


def open_flag_since(deal: Deal, kind: str) -> datetime | None:
    """When the deal's open flag of `kind` was raised (None: none open), from a deal loaded
    with `card_flag_annotations`."""
    return getattr(deal, FLAG_SINCE[kind])


def _card_query(qs: QuerySet[Deal]) -> QuerySet[Deal]:
    """Everything a card shows, in the same query: company, owner, the next step (kept on the
    deal) and its assignee, the stage's rot days, and since when each open flag has been up."""
    return (
        qs.select_related("company", "owner", "next_step_assignee", "stage")
        .only(*CARD_FIELDS)
        .annotate(**card_flag_annotations())
        .order_by("position", "pk")
    )


@dataclass(frozen=True)
class CardState:
    """What a card shows about its deal, decided once per card by the definitions of
    docs/product.md: `Deal.is_stale_at` (`rots_at` passed) and `Deal.next_step_is_overdue`
    (due before today in the organisation's time zone), the twins of the flag scan's own
    conditions."""

    stale: bool
    idle_days: int  # days since the last movement (entering the stage, completing an activity)
    rot_days: int  # the days of no movement the stage allows
    days_in_stage: int
    step: str  # the next step: "overdue", "today", "later", or "" when there is none
    close_past: bool  # the expected close date is before today


def decide_card_states(cards: list[Deal], *, now: datetime | None = None) -> list[Deal]:
    """Set `deal.state` (a CardState) on each card; the template only renders it."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    for deal in cards:
        if deal.next_step_id is None:
            step = ""
        elif deal.next_step_is_overdue(today):
            step = "overdue"
        elif deal.next_step_due == today:
            step = "today"
        else:
            step = "later"
        deal.state = CardState(
            stale=deal.is_stale_at(now),
            idle_days=(now - deal.last_movement_at).days,
            rot_days=deal.stage.rot_days,
            days_in_stage=(now - deal.stage_entered_at).days,
            step=step,
            close_past=deal.expected_close_date is not None and deal.expected_close_date < today,
        )
    return cards


def column_cards(
    *,
    stage: Stage,
    user: User,
    filters: BoardFilters,
    after: tuple[int, int] | None = None,
    limit: int | None = None,
) -> tuple[list[Deal], bool]:
    """One page of a column's cards after the (position, id) cursor, and whether more follow."""
    limit = limit or settings.BOARD_PAGE_SIZE
    qs = _board_deals(pipeline=stage.pipeline, user=user, filters=filters).filter(stage_id=stage.pk)
    if after is not None:
        position, pk = after
        qs = qs.filter(Q(position__gt=position) | Q(position=position, pk__gt=pk))
    cards = decide_card_states(list(_card_query(qs)[: limit + 1]))
    return cards[:limit], len(cards) > limit


def _first_ids_per_stage(querysets: list[QuerySet[Deal]]) -> list[int]:
    """Ids of the first cards of several columns in one round trip: a UNION ALL of per-column
    index scans, each with its own ORDER BY and LIMIT. Django's ORM refuses sliced parts in a
    compound query on some backends, so each compiled part is wrapped as a derived table."""
    parts, params = [], []
    for i, qs in enumerate(querysets):
        sql, part_params = qs.query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS part_{i}")
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return [row[0] for row in cursor.fetchall()]


def board_columns(*, pipeline: Pipeline, user: User, filters: BoardFilters) -> list[Column]:
    """The board: each stage with its first page of cards and its totals, in four queries
    whatever the number of deals: stages; totals grouped by stage and currency; the ids of
    the first cards of every column (one UNION ALL); those cards with company and owner."""
    stages = list(
        pipeline.stages.active()
        .annotate(  # the board's drops ask for exit criteria only where needed
            has_exit_criteria=Exists(ExitCriterion.objects.filter(stage_id=OuterRef("pk")))
        )
        .order_by("position", "pk")
    )
    if not stages:
        return []
    for stage in stages:
        stage.pipeline = pipeline
    totals = stage_totals(pipeline=pipeline, stages=stages, user=user, filters=filters)
    page = settings.BOARD_PAGE_SIZE
    base = _board_deals(pipeline=pipeline, user=user, filters=filters)
    ids = _first_ids_per_stage(
        [
            base.filter(stage_id=s.pk).order_by("position", "pk").values_list("pk")[: page + 1]
            for s in stages
        ]
    )
    by_stage: dict[int, list[Deal]] = {s.pk: [] for s in stages}
    cards = decide_card_states(list(_card_query(Deal.objects.filter(pk__in=ids)))) if ids else []
    for deal in cards:
        by_stage[deal.stage_id].append(deal)
    return [
        Column(
            stage=stage,
            totals=totals[stage.pk],
            cards=by_stage[stage.pk][:page],
            has_more=len(by_stage[stage.pk]) > page,
        )
        for stage in stages
    ]


def closed_deals_for_pipeline(*, pipeline: Pipeline, user: User, limit: int = 50):
    """Recently won and lost deals of the pipeline, for reopening."""
    return (
        Deal.objects.visible_to(user)
        .filter(pipeline=pipeline, status__in=[DealStatus.WON, DealStatus.LOST])
        .select_related("company", "owner", "lost_reason")
        .order_by("-closed_at", "-pk")[:limit]
    )


def paused_deals_for_pipeline(*, pipeline: Pipeline, user: User, limit: int = 50):
    """Paused deals of the pipeline, the soonest to resume first."""
    return (
        Deal.objects.visible_to(user)
        .filter(pipeline=pipeline, status=DealStatus.PAUSED)
        .select_related("company", "owner")
        .order_by("paused_until", "pk")[:limit]
    )
