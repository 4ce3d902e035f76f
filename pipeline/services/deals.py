"""Writes on deals. Each service runs in one transaction, locks the rows it changes in
primary-key order (stage rows act as the lock for their column's order), and writes the
StageChange audit row in the same transaction; a change of what the forecast reads (value,
currency, close date, owner, status) first writes the deal's fields as they were (a
DealRevision), so a late weekly snapshot can rebuild the week's start.

Permissions: callers pass objects they loaded through the selectors' access doors
(`deal_get_for_user(write=True)`); rules that depend on the new values (owner, target stage)
are checked here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, Max, Min, Q, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import User
from crm.models import Company, Contact
from crm.prepared import prepared
from crm.transactions import atomic_with_retry
from pipeline.models import (
    Deal,
    DealRevision,
    DealStatus,
    Flag,
    FlagKind,
    LostReason,
    Notification,
    NotificationKind,
    Pipeline,
    ProductArea,
    Stage,
    StageChange,
    StageTotal,
)
from pipeline.models.deals import has_open_flag
from pipeline.selectors.board import card_flag_annotations, open_flag_since
from pipeline.selectors.criteria import criteria_ticked_invalid, criteria_unmet_exists
from pipeline.services.activities import NextStep, activity_create
from pipeline.services.analytics import analytics_forget
from pipeline.services.criteria import criteria_apply_to_move, criteria_record_ticked
from pipeline.services.errors import DealRuleError
from pipeline.services.flags import FlagSyncResult, flags_sync
from pipeline.services.locks import (
    DealConflict,
    _flags_refresh,
    _lock_deal,
    _lock_stages,
    _lock_stages_with_totals,
    _moved,
    _totals_enter,
    _totals_leave,
    totals_add_many,
)
from pipeline.services.routines import NEXT_STEP_FIELDS, routines_apply_on_entry
from webhooks.models import EventType
from webhooks.services.events import deal_event, stage_data

POSITION_GAP = 1024

# The deal's fields a weekly snapshot holds besides its stage (see DealRevision).
REVISED_FIELDS = ("value", "currency", "expected_close_date", "owner", "status")


def _revision(deal: Deal, now) -> None:
    """Record the deal's forecast fields as they are, before a change at `now`."""
    DealRevision.of(deal, at=now).save()


@dataclass(frozen=True)
class MoveResult:
    deal: Deal
    from_stage: Stage
    stage: Stage
    changed: bool
    # The card landed where the client dropped it (next to a neighbour it named); when not,
    # the board shows the target column afresh.
    placed: bool = True
    # Both columns' kept totals after the move, as the board's selector reads them.
    kept_totals: list[dict] = field(default_factory=list)

    @property
    def from_stage_id(self) -> int:
        return self.from_stage.pk


# --- positions ----------------------------------------------------------------------------


def _column(stage_id: int, exclude_pk: int | None):
    qs = Deal.objects.filter(stage_id=stage_id, status=DealStatus.OPEN)
    return qs.exclude(pk=exclude_pk) if exclude_pk else qs


def _column_renumber(stage_id: int) -> None:
    """Spread a column's positions out again, keeping its order. New positions start above the
    current maximum so the partial unique index never sees two equal values mid-update."""
    top = _column(stage_id, None).aggregate(m=Max("position"))["m"] or 0
    table = Deal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET position = %s + ranked.rn * %s
            FROM (
                SELECT id, ROW_NUMBER() OVER (ORDER BY position, id) AS rn
                FROM {table} WHERE stage_id = %s AND status = 'open'
            ) AS ranked
            WHERE {table}.id = ranked.id
            """,
            [top, POSITION_GAP, stage_id],
        )


def _position_between(above: int | None, below: int | None) -> int | None:
    """A free position between two neighbouring positions (None = column edge), or None when
    the gap is used up."""
    if above is None and below is None:
        return 0
    if above is None:
        return below - POSITION_GAP
    if below is None:
        return above + POSITION_GAP
    if below - above > 1:
        return (above + below) // 2
    return None


ALREADY_THERE = None


def _neighbours(column, anchor_id: int, *, below: bool) -> list[tuple[int, int]]:
    """The anchor card and its neighbour below (or above) it, as (id, position), in one
    query; empty when the anchor has left the column."""
    anchor = column.filter(pk=anchor_id).values("position")[:1]
    if below:
        window = column.filter(position__gte=Subquery(anchor)).order_by("position")
    else:
        window = column.filter(position__lte=Subquery(anchor)).order_by("-position")
    rows = list(window.values_list("pk", "position")[:2])
    return rows if rows and rows[0][0] == anchor_id else []


def _position_for_drop(
    *, stage_id: int, deal: Deal, after_id: int | None, before_id: int | None
) -> int | None:
    """The position for `deal` dropped right below `after_id` (or, failing that, right above
    `before_id`; or at the top), or ALREADY_THERE when it sits there now. Neighbours that have
    left the column meanwhile are ignored. Must run while holding the column lock."""
    here = deal.position if deal.stage_id == stage_id else None
    for _attempt in range(2):
        column = _column(stage_id, deal.pk)
        above = below = None
        found = False
        if after_id:
            rows = _neighbours(column, after_id, below=True)
            if rows:
                found, above = True, rows[0][1]
                below = rows[1][1] if len(rows) > 1 else None
        if not found and before_id:
            rows = _neighbours(column, before_id, below=False)
            if rows:
                found, below = True, rows[0][1]
                above = rows[1][1] if len(rows) > 1 else None
        if not found:
            below = column.aggregate(m=Min("position"))["m"]
        if here is not None and (above is None or above < here) and (below is None or here < below):
            return ALREADY_THERE
        position = _position_between(above, below)
        if position is not None:
            return position
        _column_renumber(stage_id)
    raise RuntimeError("column renumbering left no gap")  # pragma: no cover


def _position_top(stage_id: int, exclude_pk: int | None = None) -> int:
    top = _column(stage_id, exclude_pk).aggregate(m=Min("position"))["m"]
    return _position_between(None, top)


# --- column totals -------------------------------------------------------------------------


def _open_totals_by_stage(stage_ids: list[int]):
    return (
        Deal.objects.filter(stage_id__in=stage_ids, status=DealStatus.OPEN)
        .values("stage_id", "currency")
        .annotate(n=Count("pk"), total=Sum("value"), flagged=Count("pk", filter=has_open_flag()))
        .order_by()
    )


@atomic_with_retry
def stage_totals_rebuild(*, stage_ids: list[int] | None = None) -> int:
    """Recompute the kept column totals from the open deals: after bulk loads that bypass the
    services, and as a nightly convergence check. Idempotent. Returns the number of stages
    recomputed."""
    stages = Stage.objects.all() if stage_ids is None else Stage.objects.filter(pk__in=stage_ids)
    ids = list(stages.values_list("pk", flat=True))
    _lock_stages(set(ids))
    rows = list(_open_totals_by_stage(ids))
    StageTotal.objects.filter(stage_id__in=ids).delete()
    StageTotal.objects.bulk_create(
        StageTotal(
            stage_id=r["stage_id"],
            currency=r["currency"],
            count=r["n"],
            value=r["total"],
            attention=r["flagged"],
        )
        for r in rows
    )
    return len(ids)


def _attention_out_of_step() -> list[StageTotal]:
    """The kept totals whose attention count differs from a recount of the open deals, set to
    the recounted number (not yet saved)."""
    counts = {
        (r["stage_id"], r["currency"]): r["n"]
        for r in Deal.objects.filter(status=DealStatus.OPEN)
        .needing_attention()
        .values("stage_id", "currency")
        .annotate(n=Count("pk"))
        .order_by()
    }
    changed = []
    for total in StageTotal.objects.all():
        wanted = counts.get((total.stage_id, total.currency), 0)
        if total.attention != wanted:
            total.attention = wanted
            changed.append(total)
    return changed


def stage_attention_rebuild(*, flags_changed: bool = False) -> int:
    """Bring the kept attention counts per stage and currency in line with the open deals
    after a scan changed flags in bulk. Convergent: a scan killed between flipping deals and
    this recount is caught by the next scan's. Returns how many rows changed.

    One grouped count without locks finds whether anything is out of step (nearly always not);
    only then is it counted again holding every column lock, as the services hold one while
    they adjust a count, so no move's adjustment falls between the count and its write.
    With `flags_changed` (the scan raised or resolved some) the counts are out of step
    almost surely: the first count is skipped."""
    if not flags_changed and not _attention_out_of_step():
        return 0
    return _stage_attention_rewrite()


@atomic_with_retry
def _stage_attention_rewrite() -> int:
    _lock_stages(set(Stage.objects.values_list("pk", flat=True)))
    changed = _attention_out_of_step()
    StageTotal.objects.bulk_update(changed, ["attention"])
    return len(changed)


def flags_scan(*, now: datetime | None = None) -> FlagSyncResult:
    """The periodic job: resume paused deals whose date has come, then bring every deal's
    flags and the board's attention counts in line with the definitions. Convergent: a missed
    run is caught up by the next."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    due = Deal.objects.filter(status=DealStatus.PAUSED, paused_until__lte=today)
    for deal in due.select_related("pipeline").iterator(chunk_size=500):
        deal_resume(acting_user=None, deal=deal, now=now)
    result = flags_sync(now=now)
    # The scan raises and resolves flags in bulk, outside the column locks the services use
    # to keep the per-stage attention counts: recount them, also when this run changed
    # nothing (the run before may have been killed between its flags and its recount).
    stage_attention_rebuild(flags_changed=bool(result.raised or result.resolved))
    return result


# --- services -----------------------------------------------------------------------------


def _check_owner(*, acting_user: User | None, pipeline: Pipeline, owner: User | None) -> None:
    """Only a manager of the team gives a deal to someone else; with no acting user (a
    website lead form an admin configured) only the owner's membership is checked."""
    if owner is None or (acting_user is not None and owner.pk == acting_user.pk):
        return
    if acting_user is not None and not access_for(acting_user).manages_team(pipeline.team_id):
        raise PermissionDenied(_("Only a manager can give a deal to someone else."))
    if (
        not owner.memberships.filter(team_id=pipeline.team_id).exists()
        and not access_for(owner).is_admin
    ):
        raise DealRuleError(_("The owner must be a member of the pipeline's team."))


def _check_company(*, pipeline: Pipeline, company: Company | None, contact: Contact | None):
    if company is not None and company.team_id != pipeline.team_id:
        raise DealRuleError(_("The company belongs to another team."))
    if contact is not None and (company is None or contact.company_id != company.pk):
        raise DealRuleError(_("The contact must work at the deal's company."))


@atomic_with_retry
def deal_create(
    *,
    acting_user: User | None,
    stage: Stage,
    title: str,
    value: Decimal = Decimal(0),
    currency: str = "EUR",
    company: Company | None = None,
    contact: Contact | None = None,
    owner: User | None = None,
    expected_close_date: date | None = None,
    product_area: ProductArea | None = None,
    next_step: NextStep | None = None,
    source: str = "",
) -> Deal:
    """Create an open deal at the top of `stage`'s column and record it entering the stage.
    With `next_step`, its first activity is planned in the same transaction, through
    `activity_create`, so the deal is never seen without a next step and a refused step
    (someone outside the team) creates nothing. `source` says where it came from.

    Assumes the caller may see the stage's pipeline. Owner defaults to the acting user; giving
    the deal to someone else needs manager rights in the team. `acting_user` None is the
    product itself acting on an admin's configuration (a website lead form): no one's rights
    are checked, the owner (None: unassigned) must be in the team, and the history names
    nobody.
    """
    pipeline = stage.pipeline
    owner = owner or acting_user
    _check_owner(acting_user=acting_user, pipeline=pipeline, owner=owner)
    _check_company(pipeline=pipeline, company=company, contact=contact)
    locked = _lock_stages({stage.pk})[stage.pk]
    now = timezone.now()
    deal = Deal.objects.create(
        title=title,
        value=value,
        currency=currency,
        company=company,
        contact=contact,
        owner=owner,
        pipeline=pipeline,
        stage=stage,
        position=_position_top(stage.pk),
        expected_close_date=expected_close_date,
        product_area=product_area,
        source=source,
        stage_entered_at=now,
        created_at=now,
        last_movement_at=now,
        rots_at=now + timedelta(days=stage.rot_days),
    )
    entry = StageChange.objects.create(
        deal=deal, from_stage=None, to_stage=stage, user=acting_user, at=now
    )
    routines_apply_on_entry(deal=deal, stage=locked, stage_change=entry, now=now)
    deal.needs_attention = False  # a new deal has no flags yet (the scan raises them)
    _totals_enter(deal)
    if next_step is not None:
        deal = activity_create(
            acting_user=acting_user,
            deal=deal,
            kind=next_step.kind,
            subject=next_step.subject,
            due_date=next_step.due_date,
            due_time=next_step.due_time,
            assignee=next_step.assignee,
        ).deal
    deal_event(EventType.DEAL_CREATED, deal, stage=lambda: stage_data(stage))
    return deal


@atomic_with_retry
def deal_move(
    *,
    acting_user: User,
    deal: Deal,
    stage_id: int,
    version: int | None,
    after_id: int | None = None,
    before_id: int | None = None,
    criteria: list[int] | None = None,
) -> MoveResult:
    """Move an open deal to stage `stage_id`, right below `after_id` (or above `before_id`, or
    at the top). The server decides the position under the column locks.

    A forward move must meet the exit criteria of every stage it leaves (the current one and
    any it skips): `criteria` are the ids the user ticked, recorded on the deal in the same
    transaction; a required criterion neither recorded before nor ticked now refuses the move
    (ExitCriteriaUnmet), ticked ids of other stages refuse it too (ExitCriteriaInvalid), and
    nothing changes. Every path that moves a deal goes through here.

    Assumes the caller may edit the deal. Idempotent: a move to where the card already is
    changes nothing. `version` None (the deal page's form) skips the stale check but still
    refuses to act on a closed deal.

    The hot path of the board (docs/performance.md): one statement locks both columns and
    reads their kept totals, one locks the deal and reads, in the same statement, what its
    card shows, its neighbours' positions, its open flags and whether the exit criteria are
    met; then the deal, its stage change and both columns' totals are written, one statement
    each. The result carries the totals as written, so the answer needs no further query.
    """
    stages = _lock_stages_with_totals({deal.stage_id, stage_id}, pipeline_id=deal.pipeline_id)
    if stage_id not in stages or stages[stage_id].is_archived:
        raise DealRuleError(_("That stage is not part of this deal's pipeline."))
    stage = stages[stage_id]
    current = _lock_deal_for_move(
        deal,
        version,
        to_stage=stage,
        from_stage=stages.get(deal.stage_id),
        after_id=after_id,
        before_id=before_id,
        ticked=criteria,
    )
    if current.stage_id not in stages:
        raise DealConflict(current)
    if current.status != DealStatus.OPEN:
        raise DealRuleError(_("Only open deals can be moved. Reopen it first."))
    from_stage_id = current.stage_id
    from_stage = stages[from_stage_id]
    current.stage = from_stage

    def result(*, changed: bool, placed: bool = True) -> MoveResult:
        return MoveResult(
            deal=current,
            from_stage=from_stage,
            stage=stage,
            changed=changed,
            placed=placed,
            kept_totals=_kept_totals(stages),
        )

    if from_stage_id != stage_id or criteria:
        _criteria_for_move(acting_user, current, from_stage, stage, criteria)
    if from_stage_id == stage_id and version is None and not after_id and not before_id:
        return result(changed=False)
    position, placed = _position_from_lock(current, stage_id, after_id, before_id)
    if position is NO_GAP:
        _column_renumber(stage_id)
        position = _position_for_drop(
            stage_id=stage_id, deal=current, after_id=after_id, before_id=before_id
        )
    if position is ALREADY_THERE:
        return result(changed=False)
    now = timezone.now()
    current.position = position
    current.version += 1  # the row is locked: no one else can bump it meanwhile
    fields = ["position", "version", "updated_at"]
    if from_stage_id == stage_id:
        current.save(update_fields=fields)
        return result(changed=True, placed=placed)
    attention_before = current.needs_attention
    current.stage = stage
    current.stage_entered_at = now
    fields += ["stage", "stage_entered_at", *_moved(current, now)]
    entry = StageChange.objects.create(
        deal=current, from_stage_id=from_stage_id, to_stage=stage, user=acting_user, at=now
    )
    # The stage's follow-up routines plan their activities first (nothing for a stage without
    # any), so a next step they give the deal counts in the flags below.
    step_before = current.next_step_id
    routines_apply_on_entry(
        deal=current, stage=stage, stage_change=entry, now=now, write_deal=False
    )
    if current.next_step_id != step_before:  # a routine planned an earlier next step
        fields += NEXT_STEP_FIELDS
    # Entering a stage is movement: the flags that no longer hold (stale, and "no next step"
    # once a routine planned one) are resolved, as `flags_sync` would; needs_attention (an
    # open flag left) follows.
    fixed, flagged = _flags_after_move(current, now)
    current.needs_attention = flagged
    current.save(update_fields=fields)
    if fixed:
        Flag.objects.filter(deal_id=current.pk, kind__in=fixed, resolved_at__isnull=True).update(
            resolved_at=now
        )
    _totals_move(
        stages,
        from_stage_id=from_stage_id,
        to_stage_id=stage_id,
        currency=current.currency,
        value=current.value,
        attention_out=int(attention_before),
        attention_in=int(current.needs_attention),
    )
    deal_event(
        EventType.DEAL_MOVED,
        current,
        from_stage=lambda: stage_data(from_stage),
        to_stage=lambda: stage_data(stage),
    )
    return result(changed=True, placed=placed)


# --- the move's reads under its locks ---------------------------------------------------------

NO_GAP = object()


def _lock_deal_for_move(
    deal: Deal,
    version: int | None,
    *,
    to_stage: Stage,
    from_stage: Stage | None,
    after_id: int | None,
    before_id: int | None,
    ticked: list[int] | None,
) -> Deal:
    """Lock the deal's row (after its columns) and read, in the same statement: what its card
    shows (company, owner, next step's assignee, since when each open flag has been up), the
    positions around the drop in the target column, and, for a forward move out of
    `from_stage` (the stage the caller saw the deal in), whether a required exit criterion of
    a stage it leaves is still unmet. Raises DealConflict for a stale `version`."""
    target, pk = to_stage.pk, deal.pk
    reads = {"column_top": RawSQL(_COLUMN_TOP_SQL, (target, pk))}
    if after_id:
        reads["after_at"] = RawSQL(_NEIGHBOUR_AT_SQL, (target, pk, after_id))
        reads["after_next"] = RawSQL(_AFTER_NEXT_SQL, (target, pk, target, pk, after_id))
    if before_id:
        reads["before_at"] = RawSQL(_NEIGHBOUR_AT_SQL, (target, pk, before_id))
        reads["before_previous"] = RawSQL(_BEFORE_PREVIOUS_SQL, (target, pk, target, pk, before_id))
    if from_stage is not None and from_stage.pk != to_stage.pk:
        marks = tuple(sorted(set(ticked or ())))
        reads["criteria_unmet"] = criteria_unmet_exists(
            deal_id=deal.pk, from_stage=from_stage, to_stage=to_stage, ticked=marks
        )
        reads["criteria_invalid"] = criteria_ticked_invalid(
            from_stage=from_stage, to_stage=to_stage, ticked=marks
        )
    with prepared():  # planning it took 1.8 ms, running it 0.2 (crm/prepared.py)
        current = (
            Deal.objects.select_for_update(no_key=True, of=("self",))
            .select_related("company", "owner", "next_step_assignee")
            .annotate(**card_flag_annotations(), **reads)
            .order_by()
            .get(pk=deal.pk)
        )
    current.pipeline = deal.pipeline  # already loaded by the caller's access check
    current.checked_criteria_for = from_stage.pk if "criteria_unmet" in reads else None
    if version is not None and current.version != version:
        raise DealConflict(current)
    return current


# The positions around a drop in the target column (its open deals but the moved one), read
# with the deal's lock: SQL with parameters, as building these as nested querysets on every
# drag cost more Python than the statement takes in the database (docs/performance.md).
def _column_sql(alias: str) -> str:
    return (
        f"FROM {Deal._meta.db_table} {alias} WHERE {alias}.stage_id = %s "
        f"AND {alias}.status = '{DealStatus.OPEN}' AND {alias}.id <> %s"
    )


_COLUMN_TOP_SQL = f"(SELECT col.position {_column_sql('col')} ORDER BY col.position LIMIT 1)"
_NEIGHBOUR_AT_SQL = f"(SELECT col.position {_column_sql('col')} AND col.id = %s)"
_AFTER_NEXT_SQL = (
    f"(SELECT col.position {_column_sql('col')} AND col.position > "
    f"(SELECT n.position {_column_sql('n')} AND n.id = %s) ORDER BY col.position LIMIT 1)"
)
_BEFORE_PREVIOUS_SQL = (
    f"(SELECT col.position {_column_sql('col')} AND col.position < "
    f"(SELECT n.position {_column_sql('n')} AND n.id = %s) ORDER BY col.position DESC LIMIT 1)"
)


def _criteria_for_move(acting_user, current: Deal, from_stage, stage, ticked) -> None:
    """Exit criteria: answered by the lock's own reads when the deal is still where the caller
    saw it, the ticked ids (if any) are criteria of the stages it leaves and nothing required
    is missing (the usual drop, and the dialog's): the ticked ones are then recorded in one
    statement. Anything else is checked in full, refused or recorded, by
    `criteria_apply_to_move`, whose rules these reads mirror."""
    if (
        current.checked_criteria_for == current.stage_id
        and not current.criteria_unmet
        and not current.criteria_invalid
    ):
        marks = tuple(sorted(set(ticked or ())))
        criteria_record_ticked(acting_user=acting_user, deal=current, ticked=marks)
        return
    criteria_apply_to_move(
        acting_user=acting_user,
        deal=current,
        from_stage=from_stage,
        to_stage=stage,
        ticked=ticked,
    )


def _position_from_lock(current: Deal, stage_id: int, after_id, before_id):
    """The drop's position from the positions read with the lock (see `_position_for_drop`
    for the rule), ALREADY_THERE, or NO_GAP; and whether the card lands where the client put
    it: next to a neighbour it named (or at the top of a column it saw empty), with no card the
    client has not loaded right below it."""
    here = current.position if current.stage_id == stage_id else None
    above = below = None
    found = placed = False
    after_at = getattr(current, "after_at", None)
    before_at = getattr(current, "before_at", None)
    if after_id and after_at is not None:
        found, above, below = True, after_at, current.after_next
        # Dropped below the last card the client had: fine unless the column goes on.
        placed = before_id is not None or below is None
    if not found and before_id and before_at is not None:
        found, above, below = True, current.before_previous, before_at
        placed = True
    if not found:
        below = current.column_top
        placed = not after_id and not before_id
    if here is not None and (above is None or above < here) and (below is None or here < below):
        return ALREADY_THERE, placed
    position = _position_between(above, below)
    return (NO_GAP if position is None else position), placed


def _flags_after_move(deal: Deal, now) -> tuple[list[str], bool]:
    """The open flags of a deal that just entered a stage which no longer hold, and whether
    any open one still does (its needs_attention), by the definitions `flags_sync` applies:
    a move resets the rotting clock, so a stale flag goes; the next step's flags stay as the
    next step is. Nothing to do for a deal without flags (as `_flags_refresh`)."""
    if not deal.needs_attention:
        return [], False
    holds = {
        FlagKind.NO_NEXT_STEP: deal.next_step_id is None,
        FlagKind.OVERDUE_NEXT_STEP: deal.next_step_is_overdue(timezone.localdate(now)),
        FlagKind.STALE: deal.is_stale_at(now),
    }
    raised = [kind for kind in holds if open_flag_since(deal, kind) is not None]
    return [k for k in raised if not holds[k]], any(holds[k] for k in raised)


# --- column totals under the move's locks ---------------------------------------------------


def _kept_totals(stages: dict[int, Stage]) -> list[dict]:
    """The kept totals of the locked columns as the board's selector reads them."""
    return [
        {"stage_id": pk, "currency": c, "n": n, "total": v, "flagged": a}
        for pk, stage in stages.items()
        for c, (n, v, a) in stage.kept_totals.items()
    ]


def _totals_move(
    stages: dict[int, Stage],
    *,
    from_stage_id: int,
    to_stage_id: int,
    currency: str,
    value: Decimal,
    attention_out: int,
    attention_in: int,
) -> None:
    """One card leaves a column and enters another: both kept totals in one statement (a row
    is created where the column has none in this currency yet), and the locked stages' copies
    of them kept in step."""
    changes = [
        (from_stage_id, -1, -value, -attention_out),
        (to_stage_id, 1, value, attention_in),
    ]
    totals_add_many(currency, changes)
    for stage_id, count, amount, attention in changes:
        n, v, a = stages[stage_id].kept_totals.get(currency, (0, Decimal(0), 0))
        stages[stage_id].kept_totals[currency] = (n + count, v + amount, a + attention)


def _stage_before(deal: Deal) -> Stage | None:
    """The active stage before the deal's own in its pipeline, by position (None in the
    first). One query; the deal's stage need not be loaded."""
    here = Subquery(Stage.objects.filter(pk=deal.stage_id).values("position")[:1])
    return (
        Stage.objects.active()
        .filter(pipeline_id=deal.pipeline_id)
        .filter(Q(position__lt=here) | Q(position=here, pk__lt=deal.stage_id))
        .order_by("-position", "-pk")
        .first()
    )


def deal_move_back(*, acting_user: User, deal: Deal, version: int | None) -> MoveResult:
    """Move an open deal back to the active stage before its own (the weekly review's and the
    clean-up list's "move back"), through `deal_move`, so the stage history, the column totals
    and the rotting clock are written as for any move; a move back leaves no stage forward, so
    no exit criteria apply. Refused in the first stage (DealRuleError), nothing changed.

    Assumes the caller may edit the deal. The target is read from the deal as the caller
    loaded it; `deal_move` checks `version` under the lock, so a deal changed since is refused
    (DealConflict)."""
    previous = _stage_before(deal)
    if previous is None:
        raise DealRuleError(_("This deal is in the first stage already."))
    return deal_move(acting_user=acting_user, deal=deal, stage_id=previous.pk, version=version)


EDITABLE_FIELDS = (
    "title",
    "value",
    "currency",
    "company",
    "contact",
    "owner",
    "expected_close_date",
    "product_area",
    "decision_maker_known",
    "timeline_confirmed",
    "need_confirmed",
)


@atomic_with_retry
def deal_update(*, acting_user: User, deal: Deal, version: int, data: dict) -> Deal:
    """Save edited fields if the user's `version` is still current, else raise DealConflict.

    Assumes the caller may edit the deal. Never touches stage, position or status, so a stale
    edit form cannot move a deal back. No write when nothing changed.
    """
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, version)
    changes = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    if "owner" in changes and changes["owner"] != current.owner:
        if not access_for(acting_user).manages_team(current.pipeline.team_id):
            raise PermissionDenied(_("Only a manager can give a deal to someone else."))
        _check_owner(acting_user=acting_user, pipeline=current.pipeline, owner=changes["owner"])
    _check_company(
        pipeline=current.pipeline,
        company=changes.get("company", current.company),
        contact=changes.get("contact", current.contact),
    )
    changed = [k for k, v in changes.items() if getattr(current, k) != v]
    if not changed:
        return current
    if any(key in REVISED_FIELDS for key in changed):
        _revision(current, timezone.now())
    counted = current.status == DealStatus.OPEN and ("value" in changed or "currency" in changed)
    if counted:
        _totals_leave(current)
    for key in changed:
        setattr(current, key, changes[key])
    if counted:
        _totals_enter(current)
    current.version += 1
    current.save(update_fields=[*changed, "version", "updated_at"])
    if "owner" in changed and current.owner_id and current.owner_id != acting_user.pk:
        Notification.objects.create(
            user_id=current.owner_id,
            kind=NotificationKind.DEAL_ASSIGNED,
            deal=current,
            actor=acting_user,
        )
    deal_event(EventType.DEAL_UPDATED, current, changed_fields=sorted(changed))
    return current


def _close(*, acting_user: User, deal: Deal, version: int | None, status: str, **extra) -> Deal:
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, version)
    if current.status != DealStatus.OPEN:
        raise DealRuleError(_("This deal is already closed."))
    _totals_leave(current)
    now = timezone.now()
    _revision(current, now)
    current.status = status
    current.closed_at = now
    for key, value in extra.items():
        setattr(current, key, value)
    current.version += 1
    current.save(update_fields=["status", "closed_at", *extra, "version", "updated_at"])
    _flags_refresh(current, now=now)  # closed deals need no next step: resolve their flags
    event_type = EventType.DEAL_WON if status == DealStatus.WON else EventType.DEAL_LOST
    deal_event(event_type, current)
    return current


@atomic_with_retry
def deal_mark_won(*, acting_user: User, deal: Deal, version: int | None) -> Deal:
    """Close an open deal as won. Assumes the caller may edit it."""
    return _close(acting_user=acting_user, deal=deal, version=version, status=DealStatus.WON)


@atomic_with_retry
def deal_mark_lost(
    *, acting_user: User, deal: Deal, version: int | None, reason: LostReason, note: str = ""
) -> Deal:
    """Close an open deal as lost with a reason, remembering the stage it was lost from.
    Assumes the caller may edit it."""
    return _close(
        acting_user=acting_user,
        deal=deal,
        version=version,
        status=DealStatus.LOST,
        lost_reason=reason,
        lost_note=note,
        lost_from_stage_id=deal.stage_id,
    )


@atomic_with_retry
def deal_reopen(*, acting_user: User, deal: Deal, version: int | None) -> Deal:
    """Put a won or lost deal back on the board, at the top of the stage it left, with a fresh
    rotting clock. Assumes the caller may edit it. An open deal is left as it is; a paused one
    is resumed."""
    if deal.status == DealStatus.PAUSED:
        return deal_resume(acting_user=acting_user, deal=deal, version=version)
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, version)
    if current.status == DealStatus.OPEN:
        return current
    now = timezone.now()
    _revision(current, now)
    current.status = DealStatus.OPEN
    current.closed_at = None
    current.lost_reason = None
    current.lost_note = ""
    current.lost_from_stage = None
    current.position = _position_top(current.stage_id, exclude_pk=current.pk)
    current.stage_entered_at = now
    _moved(current, now)
    current.version += 1
    current.save()
    _totals_enter(current)
    deal_event(EventType.DEAL_REOPENED, current)
    return current


@atomic_with_retry
def deal_pause(
    *, acting_user: User, deal: Deal, version: int | None, until: date, reason: str
) -> Deal:
    """Take an open deal off the board until `until`: it raises no flags, its rotting clock
    stops and it leaves the forecast. The scan resumes it on that date. Assumes the caller
    may edit the deal."""
    if until <= timezone.localdate():
        raise DealRuleError(_("Pick a resume date in the future."))
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, version)
    if current.status != DealStatus.OPEN:
        raise DealRuleError(_("Only open deals can be paused."))
    _totals_leave(current)
    now = timezone.now()
    _revision(current, now)
    current.status = DealStatus.PAUSED
    current.paused_at = now
    current.paused_until = until
    current.pause_reason = reason
    current.version += 1
    current.save(
        update_fields=[
            "status",
            "paused_at",
            "paused_until",
            "pause_reason",
            "version",
            "updated_at",
        ]
    )
    _flags_refresh(current, now=now)
    deal_event(EventType.DEAL_PAUSED, current, pause_reason=reason)
    return current


@atomic_with_retry
def deal_resume(
    *, acting_user: User | None, deal: Deal, version: int | None = None, now=None
) -> Deal:
    """Put a paused deal back on the board at the top of its stage. The rotting clock goes on
    from where it stopped; flags are raised at once if the deal now breaks a rule (no next
    step, say). Called by a user (who may edit the deal) or by the scan on the resume date.
    Idempotent: a deal that is not paused is left as it is."""
    now = now or timezone.now()
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, version)
    if current.status != DealStatus.PAUSED:
        return current
    stopped = now - (current.paused_at or now)
    _revision(current, now)
    current.status = DealStatus.OPEN
    current.last_movement_at += stopped
    if current.rots_at is not None:
        current.rots_at += stopped
    current.paused_at = None
    current.paused_until = None
    current.pause_reason = ""
    current.position = _position_top(current.stage_id, exclude_pk=current.pk)
    current.version += 1
    current.save()
    _totals_enter(current)
    _flags_refresh(current, now=now, raise_new=True)
    deal_event(EventType.DEAL_REOPENED, current)
    return current


@atomic_with_retry
def deal_delete(*, acting_user: User, deal: Deal) -> None:
    """Delete a deal with its history. Managers of its team and admins only."""
    if not access_for(acting_user).manages_team(deal.pipeline.team_id):
        raise PermissionDenied(_("Only a manager can delete deals."))
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, None, for_delete=True)
    if current.status == DealStatus.OPEN:
        _totals_leave(current)
    analytics_forget([current.pk])  # its stage visits go with it; their monthly sums too
    current.delete()
