"""The board: pipelines and stages a user may see, its columns with their first cards and
kept totals, the next cards as a column scrolls, the closed and paused deals beside it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from accounts.access import access_for
from accounts.models import User, person_initials, person_name
from crm.compiled import CompiledQuery
from pipeline.models import (
    Deal,
    DealStatus,
    ExitCriterion,
    Flag,
    Pipeline,
    Stage,
    StageTotal,
)
from pipeline.models.deals import FLAG_SINCE, DealVisibility, deal_visibility, has_open_flag
from pipeline.models.pipelines import visible_team_ids
from pipeline.money import current_rates, sum_in_reporting

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


def pipeline_get_for_user(*, user: User, pk: int) -> Pipeline:
    """The pipeline, or 404 when it does not exist or belongs to a team the user can't see."""
    pipeline = Pipeline.objects.visible_to(user).filter(pk=pk).first()
    if pipeline is None:
        raise Http404
    return pipeline


def pipelines_for_user(*, user: User) -> QuerySet[Pipeline]:
    return Pipeline.objects.visible_to(user).active().select_related("team")


def _switcher(pipelines: QuerySet[Pipeline], pk: int) -> QuerySet[Pipeline]:
    return pipelines.filter(Q(is_archived=False) | Q(pk=pk)).select_related("team")


# The switcher, on every board page: compiled once per process and prepared (crm/compiled.py),
# for an admin and for the members of some teams (`Pipeline.objects.visible_to`).
SWITCHER_ALL = CompiledQuery(
    Pipeline, lambda pk: _switcher(Pipeline.objects.all(), pk), "pk", prepare=True
)
SWITCHER_OF_TEAMS = CompiledQuery(
    Pipeline,
    lambda pk, team_ids: _switcher(Pipeline.objects.of_teams(team_ids), pk),
    "pk",
    "team_ids",
    prepare=True,
)


def pipeline_and_switcher_for_user(*, user: User, pk: int) -> tuple[Pipeline, list[Pipeline]]:
    """The board's pipeline (404 as `pipeline_get_for_user`) and the switcher's pipelines
    (`pipelines_for_user`, in order), read in one query: the visible pipelines that are active
    or this one."""
    team_ids = visible_team_ids(user)
    if team_ids is None:
        rows = SWITCHER_ALL.fetch(pk=pk)
    else:
        rows = SWITCHER_OF_TEAMS.fetch(pk=pk, team_ids=team_ids)
    pipeline = next((p for p in rows if p.pk == pk), None)
    if pipeline is None:
        raise Http404
    return pipeline, [p for p in rows if not p.is_archived]


def _stages_in_order() -> Prefetch:
    criteria = Prefetch("exit_criteria", queryset=ExitCriterion.objects.order_by("position", "pk"))
    stages = Stage.objects.active().order_by("position", "pk").prefetch_related(criteria)
    return Prefetch("stages", queryset=stages)


def pipelines_with_stages_for_user(*, user: User, include_archived: bool = False):
    """Visible pipelines (archived ones too when asked) with their active stages in board
    order and each stage's exit criteria: three queries, whatever the numbers."""
    pipelines = Pipeline.objects.visible_to(user)
    if not include_archived:
        pipelines = pipelines.active()
    return pipelines.prefetch_related(_stages_in_order())


def stages_for_user(*, user: User, pipeline_id: int | None = None) -> QuerySet[Stage]:
    """Active stages of the visible pipelines, with their exit criteria, unordered."""
    stages = Stage.objects.visible_to(user).active()
    if pipeline_id is not None:
        stages = stages.filter(pipeline_id=pipeline_id)
    criteria = Prefetch("exit_criteria", queryset=ExitCriterion.objects.order_by("position", "pk"))
    return stages.prefetch_related(criteria)


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

    def apply(
        self, qs: QuerySet[Deal], *, user: User | None = None, user_id: int | None = None
    ) -> QuerySet[Deal]:
        """The deals of `qs` these filters keep; "me" is `user` (or `user_id`)."""
        if self.owner == "me":
            qs = qs.filter(owner_id=user.pk if user is not None else user_id)
        elif self.owner == "none":
            qs = qs.filter(owner__isnull=True)
        elif self.owner != "any":
            qs = qs.filter(owner_id=int(self.owner))
        if self.q:
            qs = qs.filter(Q(title__icontains=self.q) | Q(company__name__icontains=self.q))
        if self.attention:
            qs = qs.needing_attention()
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
    cards: list[Card] = field(default_factory=list)
    has_more: bool = False

    @property
    def last_card(self) -> Card | None:
        return self.cards[-1] if self.cards else None


def _board_deals(*, pipeline: Pipeline, user: User, filters: BoardFilters) -> QuerySet[Deal]:
    qs = Deal.objects.visible_to(user).filter(pipeline_id=pipeline.pk, status=DealStatus.OPEN)
    return filters.apply(qs, user=user)


def _sees_whole_pipeline(*, user: User, pipeline: Pipeline) -> bool:
    access = access_for(user)
    return access.is_admin or pipeline.team_id in access.full_team_ids


def _kept_totals(stage_ids: list[int]) -> QuerySet[StageTotal]:
    return StageTotal.objects.filter(stage_id__in=stage_ids).values(
        "stage_id", "currency", n=F("count"), total=F("value"), flagged=F("attention")
    )


# On every board page: compiled once per process and number of stages, prepared
# (crm/compiled.py).
KEPT_TOTALS = CompiledQuery(StageTotal, _kept_totals, "stage_ids", prepare=True)


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
        rows = KEPT_TOTALS.fetch(stage_ids=stage_ids) if kept is None else kept
    else:
        rows = (
            _board_deals(pipeline=pipeline, user=user, filters=filters)
            .filter(stage_id__in=stage_ids)
            .values("stage_id", "currency")
            .annotate(
                n=Count("pk"),
                total=Sum("value"),
                flagged=Count("pk", filter=has_open_flag()),
            )
            .order_by()
        )
    per_stage: dict[int, list] = {}
    for row in rows:
        per_stage.setdefault(row["stage_id"], []).append(row)
    totals = {}
    rates = current_rates()  # once, not twice per stage
    for stage in stages:
        stage_rows = per_stage.get(stage.pk, [])
        value = sum_in_reporting(((r["total"], r["currency"]) for r in stage_rows), rates)
        weighted = sum_in_reporting(
            ((r["total"] * stage.probability / Decimal(100), r["currency"]) for r in stage_rows),
            rates,
        )
        totals[stage.pk] = StageTotals(
            count=sum(r["n"] for r in stage_rows),
            value=value,
            weighted=weighted,
            attention=sum(r["flagged"] for r in stage_rows),
        )
    return totals


# Since when a deal's open flag of one kind has been up (the newest such flag, by Flag's
# ordering), as SQL on the outer query's deal row: the board's cards and the drag's lock read
# it per deal, and three nested querysets cost more Python to build on every drag than the
# subqueries take in the database (docs/performance.md).
_FLAG_SINCE_SQL = f"""(SELECT flag_since.raised_at FROM {Flag._meta.db_table} flag_since
WHERE flag_since.deal_id = {Deal._meta.db_table}.id AND flag_since.kind = %s
AND flag_since.resolved_at IS NULL ORDER BY flag_since.raised_at DESC, flag_since.id LIMIT 1)"""


def _flag_since(kind: str) -> RawSQL:
    return RawSQL(_FLAG_SINCE_SQL, (kind,), output_field=DateTimeField())


def card_flag_annotations() -> dict[str, RawSQL]:
    """Since when each open flag of a deal has been up, for its card (and for the move, which
    reads them with its lock to resolve what the move fixed). For a query whose deal table is
    not aliased (the board's and the move's)."""
    return {name: _flag_since(kind) for kind, name in FLAG_SINCE.items()}


def open_flag_since(deal: Deal, kind: str) -> datetime | None:
    """When the deal's open flag of `kind` was raised (None: none open), from a deal loaded
    with `card_flag_annotations`."""
    return getattr(deal, FLAG_SINCE[kind])


def _card_query(qs: QuerySet[Deal]) -> QuerySet[Deal]:
    """Everything a card shows, in the same query, as plain values (no model instances):
    company, owner, the next step (kept on the deal) and its assignee, the stage's rot days,
    and since when each open flag has been up."""
    return (
        qs.annotate(**card_flag_annotations())
        .order_by("position", "pk")
        .values(*CARD_VALUES, *FLAG_SINCE.values())
    )


# The values a card is read from (Card's constructor takes them by these names).
CARD_VALUES = (
    "id",
    "title",
    "value",
    "currency",
    "status",
    "expected_close_date",
    "version",
    "stage_id",
    "position",
    "owner_id",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
    "company_id",
    "company__name",
    "company__tier",
    "next_step_id",
    "next_step_subject",
    "next_step_due",
    "next_step_assignee_id",
    "next_step_assignee__first_name",
    "next_step_assignee__last_name",
    "next_step_assignee__username",
    "last_movement_at",
    "rots_at",
    "stage_entered_at",
    "stage__rot_days",
)


class CardState(NamedTuple):
    """What a card shows about its deal, decided once per card by the definitions of
    docs/product.md: `Deal.is_stale_at` (`rots_at` passed) and `Deal.next_step_is_overdue`
    (due before today in the organisation's time zone), the twins of the flag scan's own
    conditions. A named tuple: immutable, part of the card's memo key, and made for every
    card of every board at a third of a frozen dataclass's cost."""

    stale: bool
    idle_days: int  # days since the last movement (entering the stage, completing an activity)
    rot_days: int  # the days of no movement the stage allows
    days_in_stage: int
    step: str  # the next step: "overdue", "today", "later", or "" when there is none
    close_past: bool  # the expected close date is before today


@functools.lru_cache(maxsize=2048)
def _named(first_name: str, last_name: str, username: str) -> tuple[str, str]:
    """A person's name and initials on a card: a board names the same few people on most of
    its cards."""
    return person_name(first_name, last_name, username), person_initials(
        first_name, last_name, username
    )


class Card:
    """A board card: the plain values of its deal that the card shows, read as one row (the
    board's hot path builds no model instances: docs/performance.md), and its `state`.
    `is_open`, `rots_at` and `next_step_due` let `Deal.is_stale_at` and
    `Deal.next_step_is_overdue` decide on it as on a deal, so there is one definition."""

    __slots__ = (
        "pk",
        "title",
        "value",
        "currency",
        "status",
        "expected_close_date",
        "version",
        "stage_id",
        "position",
        "owner_id",
        "owner_name",
        "owner_initials",
        "company_id",
        "company_name",
        "company_tier",
        "next_step_id",
        "next_step_subject",
        "next_step_due",
        "assignee_id",
        "assignee_name",
        "assignee_initials",
        "last_movement_at",
        "rots_at",
        "stage_entered_at",
        "rot_days",
        "no_next_step_since",
        "overdue_since",
        "stale_since",
        "state",
    )

    def __init__(self, row: dict):
        self.pk = row["id"]
        self.title = row["title"]
        self.value = row["value"]
        self.currency = row["currency"]
        self.status = row["status"]
        self.expected_close_date = row["expected_close_date"]
        self.version = row["version"]
        self.stage_id = row["stage_id"]
        self.position = row["position"]
        self.owner_id = row["owner_id"]
        self.owner_name = self.owner_initials = ""
        if self.owner_id is not None:
            self.owner_name, self.owner_initials = _named(
                row["owner__first_name"], row["owner__last_name"], row["owner__username"]
            )
        self.company_id = row["company_id"]
        self.company_name = row["company__name"]
        self.company_tier = row["company__tier"]
        self.next_step_id = row["next_step_id"]
        self.next_step_subject = row["next_step_subject"]
        self.next_step_due = row["next_step_due"]
        self.assignee_id = row["next_step_assignee_id"]
        self.assignee_name = self.assignee_initials = ""
        if self.assignee_id is not None:
            self.assignee_name, self.assignee_initials = _named(
                row["next_step_assignee__first_name"],
                row["next_step_assignee__last_name"],
                row["next_step_assignee__username"],
            )
        self.last_movement_at = row["last_movement_at"]
        self.rots_at = row["rots_at"]
        self.stage_entered_at = row["stage_entered_at"]
        self.rot_days = row["stage__rot_days"]
        self.no_next_step_since = row["no_next_step_since"]
        self.overdue_since = row["overdue_since"]
        self.stale_since = row["stale_since"]

    @classmethod
    def from_deal(cls, deal: Deal) -> Card:
        """The card of a deal loaded with `card_flag_annotations` and its stage, company, owner
        and next step's assignee (the move reads it so with its lock)."""
        owner, company, assignee = deal.owner, deal.company, None
        if deal.next_step_assignee_id not in (None, deal.owner_id):
            # Only when the card shows it: a next step a routine just gave the deal (its
            # owner's) is not among what the move's lock read, and would cost a query.
            assignee = deal.next_step_assignee
        row = {name: getattr(deal, name) for name in CARD_DEAL_FIELDS}
        row |= {
            "id": deal.pk,
            "owner__first_name": owner.first_name if owner else "",
            "owner__last_name": owner.last_name if owner else "",
            "owner__username": owner.username if owner else "",
            "company__name": company.name if company else None,
            "company__tier": company.tier if company else None,
            "next_step_assignee__first_name": assignee.first_name if assignee else "",
            "next_step_assignee__last_name": assignee.last_name if assignee else "",
            "next_step_assignee__username": assignee.username if assignee else "",
            "stage__rot_days": deal.stage.rot_days,
        }
        return cls(row)

    @property
    def is_open(self) -> bool:
        return self.status == DealStatus.OPEN

    def is_stale_at(self, now: datetime) -> bool:
        return Deal.is_stale_at(self, now)  # type: ignore[arg-type]

    def next_step_is_overdue(self, today: date) -> bool:
        return Deal.next_step_is_overdue(self, today)  # type: ignore[arg-type]


# The card's values that are the deal's own fields and annotations (Card.from_deal).
CARD_DEAL_FIELDS = tuple(
    name for name in (*CARD_VALUES, *FLAG_SINCE.values()) if "__" not in name and name != "id"
)


def decide_card_states(cards: list[Card], *, now: datetime | None = None) -> list[Card]:
    """Set `card.state` (a CardState) on each card; the template only renders it."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    for card in cards:
        if card.next_step_id is None:
            step = ""
        elif card.next_step_is_overdue(today):
            step = "overdue"
        elif card.next_step_due == today:
            step = "today"
        else:
            step = "later"
        card.state = CardState(
            stale=card.is_stale_at(now),
            idle_days=(now - card.last_movement_at).days,
            rot_days=card.rot_days,
            days_in_stage=(now - card.stage_entered_at).days,
            step=step,
            close_past=card.expected_close_date is not None and card.expected_close_date < today,
        )
    return cards


def cards_from_rows(rows) -> list[Card]:
    return decide_card_states([Card(row) for row in rows])


def column_cards(
    *,
    stage: Stage,
    user: User,
    filters: BoardFilters,
    after: tuple[int, int] | None = None,
    limit: int | None = None,
) -> tuple[list[Card], bool]:
    """One page of a column's cards after the (position, id) cursor, and whether more follow."""
    limit = limit or settings.BOARD_PAGE_SIZE
    qs = _board_deals(pipeline=stage.pipeline, user=user, filters=filters).filter(stage_id=stage.pk)
    if after is not None:
        position, pk = after
        qs = qs.filter(Q(position__gt=position) | Q(position=position, pk__gt=pk))
    cards = cards_from_rows(_card_query(qs)[: limit + 1])
    return cards[:limit], len(cards) > limit


def _stage_ids_query(base: QuerySet[Deal], limit: int) -> QuerySet[Deal]:
    """The ids of the first `limit` deals of `base` in the stage `board_stage.id`, in board
    order: the inner query of the board's LATERAL join on PostgreSQL."""
    ids = base.filter(stage_id=RawSQL("board_stage.id", ())).order_by("position", "pk")
    return ids.values("id")[:limit]


@functools.cache
def _compiled_stage_ids(
    *, everything: bool, own: bool, owner: str, attention: bool, tiers: tuple[str, ...], limit: int
) -> CompiledQuery:
    """`_stage_ids_query` of the board's deals (`_board_deals`) for one shape of the visibility
    rule and the filters without a search text, compiled once per process (crm/compiled.py).
    `owner` is "any", "me", "none" or "id" (a person's id: `owner_id`)."""
    needs_user = own or owner == "me"

    def build(pipeline_id, full_ids, own_ids, user_id=None, owner_id=None):
        rule = DealVisibility(everything, full_ids, own_ids, user_id)
        filters = BoardFilters(
            owner=str(owner_id) if owner == "id" else owner, attention=attention, tiers=tiers
        )
        deals = Deal.objects.visible_under(rule).filter(
            pipeline_id=pipeline_id, status=DealStatus.OPEN
        )
        return _stage_ids_query(filters.apply(deals, user_id=user_id), limit)

    parameters = ["pipeline_id", "full_ids", "own_ids"]
    parameters += ["user_id"] * needs_user + ["owner_id"] * (owner == "id")
    return CompiledQuery(Deal, build, *parameters)


def _stage_ids_sql(
    *, pipeline: Pipeline, user: User, filters: BoardFilters, limit: int
) -> tuple[str, list]:
    """The SQL of `_stage_ids_query` of the board's deals: compiled once per shape, or built by
    the ORM for a search text (its pattern is a parameter Django derives from the text)."""
    if filters.q:
        base = _board_deals(pipeline=pipeline, user=user, filters=filters)
        sql, params = _stage_ids_query(base, limit).query.sql_with_params()
        return sql, list(params)
    rule = deal_visibility(user)
    full_ids = [] if rule.everything else rule.full_pipeline_ids
    own_ids = [] if rule.everything else rule.own_pipeline_ids
    owner = filters.owner if filters.owner in ("any", "me", "none") else "id"
    compiled = _compiled_stage_ids(
        everything=rule.everything,
        own=bool(own_ids),
        owner=owner,
        attention=filters.attention,
        tiers=filters.tiers,
        limit=limit,
    )
    values = {"pipeline_id": pipeline.pk, "full_ids": full_ids, "own_ids": own_ids}
    if "user_id" in compiled.parameters:
        values["user_id"] = rule.user_id
    if owner == "id":
        values["owner_id"] = int(filters.owner)
    return compiled.sql(**values)


def _first_cards_per_stage(
    *, pipeline: Pipeline, user: User, filters: BoardFilters, stages: list[Stage], limit: int
) -> list[dict]:
    """The first `limit` cards of every column, as rows, in one round trip.

    PostgreSQL: a LATERAL join over the stage ids runs the ids' query (visibility, filters)
    per stage, an index scan with its own ORDER BY and LIMIT, and a second LATERAL join reads
    each card by its id with a query compiled once per process. Elsewhere (SQLite): a UNION
    ALL of the per-column queries, each compiled part wrapped as a derived table (Django's ORM
    refuses sliced parts in a compound query on some backends)."""
    stage_ids = [s.pk for s in stages]
    if connection.vendor == "postgresql":
        ids_sql, ids_params = _stage_ids_sql(
            pipeline=pipeline, user=user, filters=filters, limit=limit
        )
        card_sql, card_params, names = _card_by_id_sql()
        sql = (
            "SELECT card.* FROM unnest(%s::bigint[]) WITH ORDINALITY AS board_stage(id, n) "
            f"CROSS JOIN LATERAL ({ids_sql}) AS first_ids "
            f"CROSS JOIN LATERAL ({card_sql}) AS card ORDER BY board_stage.n"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [stage_ids, *ids_params, *card_params])
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    base = _board_deals(pipeline=pipeline, user=user, filters=filters)
    parts, params = [], []
    for i, stage_id in enumerate(stage_ids):
        compiler = _compiled(base.filter(stage_id=stage_id), limit)
        part_sql, part_params = compiler.as_sql()
        parts.append(f"SELECT * FROM ({part_sql}) AS part_{i}")
        params.extend(part_params)
    query = compiler.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    converters = compiler.get_converters([column[0] for column in compiler.select])
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    if converters:  # what the ORM does to the database's values (SQLite's dates and times)
        rows = compiler.apply_converters(rows, converters)
    return [dict(zip(names, row, strict=True)) for row in rows]


@functools.cache
def _card_by_id_sql() -> tuple[str, tuple, list[str]]:
    """PostgreSQL: the card of the deal `first_ids.id` - the same text for every board and
    user (visibility and filters are in the ids' query), so compiled once per process. Its
    values need no converters on PostgreSQL (psycopg returns dates, times and decimals)."""
    compiler = _card_query(Deal.objects.filter(pk=RawSQL("first_ids.id", ()))).query.get_compiler(
        using=connection.alias
    )
    sql, params = compiler.as_sql()
    assert not compiler.get_converters([column[0] for column in compiler.select])
    query = compiler.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    return sql, tuple(params), names


def _compiled(qs: QuerySet[Deal], limit: int):
    return _card_query(qs)[:limit].query.get_compiler(using=connection.alias)


def _board_stages(pipeline_id: int) -> QuerySet[Stage]:
    return (
        Stage.objects.filter(pipeline_id=pipeline_id)
        .active()
        .annotate(  # the board's drops ask for exit criteria only where needed
            has_exit_criteria=Exists(ExitCriterion.objects.filter(stage_id=OuterRef("pk")))
        )
        .order_by("position", "pk")
    )


# The board's columns, on every board page: compiled once per process, prepared (crm/compiled.py).
BOARD_STAGES = CompiledQuery(Stage, _board_stages, "pipeline_id", prepare=True)


def board_columns(*, pipeline: Pipeline, user: User, filters: BoardFilters) -> list[Column]:
    """The board: each stage with its first page of cards and its totals, in three queries
    whatever the number of deals: stages; totals grouped by stage and currency; the first
    cards of every column with their company, owner and flags (one statement)."""
    stages = BOARD_STAGES.fetch(pipeline_id=pipeline.pk)
    if not stages:
        return []
    for stage in stages:
        stage.pipeline = pipeline
    totals = stage_totals(pipeline=pipeline, stages=stages, user=user, filters=filters)
    page = settings.BOARD_PAGE_SIZE
    by_stage: dict[int, list[Card]] = {s.pk: [] for s in stages}
    rows = _first_cards_per_stage(
        pipeline=pipeline, user=user, filters=filters, stages=stages, limit=page + 1
    )
    for card in cards_from_rows(rows):
        by_stage[card.stage_id].append(card)
    columns = []
    for stage in stages:
        cards = sorted(by_stage[stage.pk], key=_card_order)
        columns.append(
            Column(
                stage=stage, totals=totals[stage.pk], cards=cards[:page], has_more=len(cards) > page
            )
        )
    return columns


def _card_order(card: Card) -> tuple[int, int]:
    return (card.position, card.pk)


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
