"""Admin writes behind the settings pages: pipelines, stages, their exit criteria and
follow-up routines, lost reasons and product areas.

Permissions: callers have passed `accounts.selectors.settings_access` (admins only) and
loaded objects through `pipeline.selectors.settings`. Every service runs in one transaction;
stage changes lock the pipeline's stage rows in primary-key order, the same rows the deal
services lock as column locks, so a settings change and a card drop never interleave.

Removing a stage never loses a deal or its history: its deals (any status) move to a stage
the admin picks, and a stage that any deal ever entered is archived rather than deleted, so
stage changes, lost-from stages and forecast snapshots keep pointing at it. Only a stage no
deal ever touched is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Team, User
from crm.rules import RuleError
from crm.shared import changed as shared_changed
from crm.transactions import atomic_with_retry
from pipeline.models import (
    ROUTINE_MAX_DAYS,
    ActivityKind,
    Deal,
    DealCriterionCheck,
    DealStatus,
    ExitCriterion,
    FollowUpRoutine,
    ForecastSnapshot,
    LostReason,
    Pipeline,
    ProductArea,
    Stage,
    StageChange,
)
from pipeline.services.deals import POSITION_GAP, stage_totals_rebuild
from pipeline.services.flags import flags_sync

STANDARD_STAGES = (
    (gettext_lazy("Lead in"), 10),
    (gettext_lazy("Qualified"), 25),
    (gettext_lazy("Proposal made"), 50),
    (gettext_lazy("Negotiation"), 75),
)


class SettingsError(RuleError):
    """A settings change the rules refuse; the message is shown to the admin (400)."""


# --- pipelines ----------------------------------------------------------------------------


@atomic_with_retry
def pipeline_create(
    *, acting_user: User, name: str, team: Team, standard_stages: bool = True
) -> Pipeline:
    """Create a pipeline for `team` with the standard stages (or one stage to rename), placed
    last. A pipeline always has at least one stage."""
    top = Pipeline.objects.aggregate(m=Max("position"))["m"]
    pipeline = Pipeline.objects.create(name=name, team=team, position=0 if top is None else top + 1)
    shared_changed("labels")
    stages = STANDARD_STAGES if standard_stages else ((gettext_lazy("New"), 10),)
    Stage.objects.bulk_create(
        Stage(pipeline=pipeline, name=str(label), probability=probability, position=i)
        for i, (label, probability) in enumerate(stages)
    )
    return pipeline


@atomic_with_retry
def pipeline_update(
    *,
    acting_user: User,
    pipeline: Pipeline,
    name: str,
    team: Team,
    qualified_after_stage: Stage | None,
) -> Pipeline:
    """Rename a pipeline, give it to another team, set the stage after which deals must be
    qualified. Moving a pipeline to another team is refused while it holds deals of
    companies of another team (deals and their companies belong to one team). No write when
    nothing changed."""
    current = Pipeline.objects.select_for_update(no_key=True).get(pk=pipeline.pk)
    if qualified_after_stage is not None and (
        qualified_after_stage.pipeline_id != current.pk or qualified_after_stage.is_archived
    ):
        raise SettingsError(_("Pick a stage of this pipeline."))
    if team.pk != current.team_id:
        foreign = Deal.objects.filter(pipeline=current, company__isnull=False).exclude(
            company__team_id=team.pk
        )
        if foreign.exists():
            raise SettingsError(
                _(
                    "This pipeline holds deals of companies of its current team, so it cannot "
                    "move to another team. Create a new pipeline for that team instead."
                )
            )
    changes = {
        "name": name,
        "team_id": team.pk,
        "qualified_after_stage_id": qualified_after_stage.pk if qualified_after_stage else None,
    }
    changed = [key for key, value in changes.items() if getattr(current, key) != value]
    if not changed:
        return current
    for key in changed:
        setattr(current, key, changes[key])
    current.save(update_fields=changed)
    shared_changed("labels")
    return current


def _pipeline_set_archived(pipeline: Pipeline, archived: bool) -> Pipeline:
    current = Pipeline.objects.select_for_update(no_key=True).get(pk=pipeline.pk)
    if current.is_archived != archived:
        current.is_archived = archived
        current.save(update_fields=["is_archived"])
        shared_changed("labels")
    return current


@atomic_with_retry
def pipeline_archive(*, acting_user: User, pipeline: Pipeline) -> Pipeline:
    """Hide a pipeline from the board picker and the review; its deals stay as they are.
    Idempotent."""
    return _pipeline_set_archived(pipeline, True)


@atomic_with_retry
def pipeline_unarchive(*, acting_user: User, pipeline: Pipeline) -> Pipeline:
    """Bring an archived pipeline back. Idempotent."""
    return _pipeline_set_archived(pipeline, False)


# --- stages -------------------------------------------------------------------------------


def _lock_pipeline_stages(pipeline_id: int) -> list[Stage]:
    """Lock every stage of the pipeline (archived ones too) in primary-key order, and return
    the active ones in board order."""
    locked = list(
        Stage.objects.select_for_update(no_key=True).filter(pipeline_id=pipeline_id).order_by("pk")
    )
    return sorted((s for s in locked if not s.is_archived), key=lambda s: (s.position, s.pk))


def _check_stage_name(stages: list[Stage], name: str, *, exclude_pk: int | None = None) -> None:
    taken = {s.name.casefold() for s in stages if s.pk != exclude_pk}
    if name.casefold() in taken:
        raise SettingsError(_("This pipeline already has a stage with that name."))


@atomic_with_retry
def stage_create(
    *, acting_user: User, pipeline: Pipeline, name: str, probability: int, rot_days: int
) -> Stage:
    """Add a stage at the end of the pipeline."""
    stages = _lock_pipeline_stages(pipeline.pk)
    _check_stage_name(stages, name)
    position = stages[-1].position + 1 if stages else 0
    shared_changed("labels")
    return Stage.objects.create(
        pipeline=pipeline, name=name, probability=probability, rot_days=rot_days, position=position
    )


@atomic_with_retry
def stage_update(
    *, acting_user: User, stage: Stage, name: str, probability: int, rot_days: int
) -> Stage:
    """Rename a stage, set its probability and rot days. New rot days change when the
    stage's open and paused deals go stale (`rots_at` = last movement + rot days), set-based;
    the stale flags follow at once and the column's attention count with them. No write when
    nothing changed."""
    stages = _lock_pipeline_stages(stage.pipeline_id)
    current = next((s for s in stages if s.pk == stage.pk), None)
    if current is None:
        raise SettingsError(_("This stage has been removed."))
    _check_stage_name(stages, name, exclude_pk=current.pk)
    changes = {"name": name, "probability": probability, "rot_days": rot_days}
    changed = [key for key, value in changes.items() if getattr(current, key) != value]
    if not changed:
        return current
    for key in changed:
        setattr(current, key, changes[key])
    current.save(update_fields=changed)
    shared_changed("labels")
    if "rot_days" in changed:
        _deals_restale(current)
    return current


def _deals_restale(stage: Stage) -> None:
    """Recompute `rots_at` of the stage's open and paused deals, then their flags and the
    column's kept totals. Callers hold the stage's column lock."""
    living = Deal.objects.filter(stage=stage, status__in=[DealStatus.OPEN, DealStatus.PAUSED])
    living.update(rots_at=F("last_movement_at") + timedelta(days=stage.rot_days))
    flags_sync(deals=living.filter(status=DealStatus.OPEN), now=timezone.now())
    stage_totals_rebuild(stage_ids=[stage.pk])


@atomic_with_retry
def stage_reorder(*, acting_user: User, pipeline: Pipeline, stage_ids: list[int]) -> bool:
    """Put the pipeline's stages in the order of `stage_ids`, which must name every active
    stage of the pipeline exactly once (a drag sends the whole list). Positions are rewritten
    under the stage locks. Idempotent: the same order twice changes nothing. Returns whether
    anything changed."""
    stages = _lock_pipeline_stages(pipeline.pk)
    if len(stage_ids) != len(set(stage_ids)) or set(stage_ids) != {s.pk for s in stages}:
        raise SettingsError(
            _("The order must list each stage of this pipeline once. Reload and try again.")
        )
    return _renumber(stages, stage_ids)


@atomic_with_retry
def stage_move(*, acting_user: User, stage: Stage, direction: str) -> bool:
    """Move a stage one place up or down (the keyboard path beside dragging). Moving the
    first stage up or the last down changes nothing. Returns whether anything changed."""
    stages = _lock_pipeline_stages(stage.pipeline_id)
    ids = [s.pk for s in stages]
    if stage.pk not in ids:
        raise SettingsError(_("This stage has been removed."))
    index = ids.index(stage.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ids):
        return _renumber(stages, ids)  # also repairs gaps left by removed stages
    ids[index], ids[other] = ids[other], ids[index]
    return _renumber(stages, ids)


@dataclass(frozen=True)
class StageRemoval:
    moved: int  # deals moved to the target stage
    archived: bool  # kept for its history (True) or deleted (False)


def stage_deal_counts(stage: Stage) -> dict[str, int]:
    """How many deals of each status the stage holds."""
    rows = Deal.objects.filter(stage=stage).values("status").annotate(n=Count("pk")).order_by()
    return {row["status"]: row["n"] for row in rows}


def _has_history(stage: Stage) -> bool:
    # Snapshot lines are not asked: a deal that stood in the stage when a snapshot was taken
    # has a stage change into it (every deal gets one when created), and the lines table has
    # no index on the stage (it is written a million rows a week).
    return (
        StageChange.objects.filter(Q(to_stage=stage) | Q(from_stage=stage)).exists()
        or Deal.objects.filter(Q(stage=stage) | Q(lost_from_stage=stage)).exists()
        or DealCriterionCheck.objects.filter(stage=stage).exists()
        or ForecastSnapshot.objects.filter(stage_id=stage.pk).exists()
    )


def _move_all_deals(*, acting_user: User, stage: Stage, target: Stage, now) -> int:
    """Move every deal of `stage` to `target`, set-based. Open cards go below the target
    column's last card, in their old order; open and paused deals get a stage change (they
    live on in the target) and a rotting clock set by the target's rot days (their last
    movement is kept: an admin tidying stages is not customer movement). Won and lost deals
    just point at the target, so reopening one puts it on the board; their history and
    lost-from stage still name the removed stage. Callers hold both column locks."""
    deals = Deal.objects.filter(stage=stage)
    living_ids = list(
        deals.filter(status__in=[DealStatus.OPEN, DealStatus.PAUSED]).values_list("pk", flat=True)
    )
    bottom = Deal.objects.filter(stage=target, status=DealStatus.OPEN).aggregate(m=Max("position"))[
        "m"
    ]
    table = Deal._meta.db_table
    with connection.cursor() as cursor:
        # One statement: the cards change column and get places below the target's last
        # card together, so the open-position unique index never sees a clash.
        cursor.execute(
            f"""
            UPDATE {table} SET stage_id = %s, position = %s + ranked.rn * %s
            FROM (
                SELECT id, ROW_NUMBER() OVER (ORDER BY position, id) AS rn
                FROM {table} WHERE stage_id = %s AND status = 'open'
            ) AS ranked
            WHERE {table}.id = ranked.id
            """,
            [target.pk, bottom or 0, POSITION_GAP, stage.pk],
        )
    Deal.objects.filter(pk__in=living_ids).update(
        stage=target,
        stage_entered_at=now,
        rots_at=F("last_movement_at") + timedelta(days=target.rot_days),
        version=F("version") + 1,
        updated_at=now,
    )
    moved = len(living_ids) + deals.update(stage=target, updated_at=now)
    StageChange.objects.bulk_create(
        (
            StageChange(deal_id=pk, from_stage=stage, to_stage=target, user=acting_user, at=now)
            for pk in living_ids
        ),
        batch_size=1000,
    )
    flags_sync(deals=Deal.objects.filter(pk__in=living_ids, status=DealStatus.OPEN), now=now)
    stage_totals_rebuild(stage_ids=[stage.pk, target.pk])
    return moved


@atomic_with_retry
def stage_delete(
    *, acting_user: User, stage: Stage, move_deals_to: Stage | None = None
) -> StageRemoval:
    """Remove a stage from its pipeline. Its deals (any status) move to `move_deals_to`, a
    stage of the same pipeline, which is required when it holds any. A stage that any deal
    ever entered is archived (kept for history, off the board); one never used is deleted.
    A pipeline keeps at least one stage. Not idempotent by nature: removing a removed stage
    is refused."""
    stages = _lock_pipeline_stages(stage.pipeline_id)
    current = next((s for s in stages if s.pk == stage.pk), None)
    if current is None:
        raise SettingsError(_("This stage has been removed already."))
    if len(stages) == 1:
        raise SettingsError(_("A pipeline needs at least one stage. Add another one first."))
    holds_deals = Deal.objects.filter(stage=current).exists()
    target = None
    if move_deals_to is not None:
        target = next((s for s in stages if s.pk == move_deals_to.pk), None)
        if target is None or target.pk == current.pk:
            raise SettingsError(_("Pick another stage of this pipeline for its deals."))
    if holds_deals and target is None:
        raise SettingsError(_("This stage holds deals: pick the stage they move to."))
    moved = 0
    if holds_deals:
        now = timezone.now()
        moved = _move_all_deals(acting_user=acting_user, stage=current, target=target, now=now)
    pipeline = Pipeline.objects.select_for_update(no_key=True).get(pk=current.pipeline_id)
    if pipeline.qualified_after_stage_id == current.pk:
        # Keep the same stages "after" the threshold: the one before the removed stage.
        index = stages.index(current)
        pipeline.qualified_after_stage = stages[index - 1] if index > 0 else None
        pipeline.save(update_fields=["qualified_after_stage"])
    remaining = [s.pk for s in stages if s.pk != current.pk]
    if _has_history(current):
        current.is_archived = True
        current.save(update_fields=["is_archived"])
        archived = True
    else:
        current.delete()
        archived = False
    _renumber([s for s in stages if s.pk != current.pk], remaining)
    shared_changed("labels")
    return StageRemoval(moved=moved, archived=archived)


# --- exit criteria ------------------------------------------------------------------------


def _lock_criteria(stage: Stage) -> list[ExitCriterion]:
    Stage.objects.select_for_update(no_key=True).filter(pk=stage.pk).first()
    return sorted(
        ExitCriterion.objects.select_for_update(no_key=True).filter(stage=stage).order_by("pk"),
        key=lambda c: (c.position, c.pk),
    )


@atomic_with_retry
def exit_criterion_create(
    *, acting_user: User, stage: Stage, text: str, is_required: bool
) -> ExitCriterion:
    """Add a customer event to the end of the stage's exit criteria."""
    criteria = _lock_criteria(stage)
    if any(c.text.casefold() == text.casefold() for c in criteria):
        raise SettingsError(_("This stage already has that exit criterion."))
    position = criteria[-1].position + 1 if criteria else 0
    return ExitCriterion.objects.create(
        stage=stage, text=text, is_required=is_required, position=position
    )


@atomic_with_retry
def exit_criterion_update(
    *, acting_user: User, criterion: ExitCriterion, text: str, is_required: bool
) -> ExitCriterion:
    """Reword a criterion or switch it between required and advisory. Deals' ticks keep the
    text they were ticked with. No write when nothing changed."""
    criteria = _lock_criteria(criterion.stage)
    current = next((c for c in criteria if c.pk == criterion.pk), None)
    if current is None:
        raise SettingsError(_("This exit criterion has been removed."))
    if any(c.text.casefold() == text.casefold() for c in criteria if c.pk != current.pk):
        raise SettingsError(_("This stage already has that exit criterion."))
    changes = {"text": text, "is_required": is_required}
    changed = [key for key, value in changes.items() if getattr(current, key) != value]
    if changed:
        for key in changed:
            setattr(current, key, changes[key])
        current.save(update_fields=changed)
    return current


@atomic_with_retry
def exit_criterion_delete(*, acting_user: User, criterion: ExitCriterion) -> None:
    """Remove a criterion. Deals that ticked it keep the tick with its text."""
    _lock_criteria(criterion.stage)
    ExitCriterion.objects.filter(pk=criterion.pk).delete()


@atomic_with_retry
def exit_criterion_move(*, acting_user: User, criterion: ExitCriterion, direction: str) -> bool:
    """Move a criterion one place up or down. Returns whether anything changed."""
    criteria = _lock_criteria(criterion.stage)
    return _move_in_list(criteria, criterion.pk, direction)


@atomic_with_retry
def exit_criteria_reorder(*, acting_user: User, stage: Stage, criterion_ids: list[int]) -> bool:
    """Order the stage's criteria as `criterion_ids` (each exactly once)."""
    criteria = _lock_criteria(stage)
    return _reorder_list(criteria, criterion_ids)


# --- follow-up routines --------------------------------------------------------------------

ROUTINES_PER_STAGE = 10


def _lock_routines(stage: Stage) -> tuple[Stage, list[FollowUpRoutine]]:
    """Lock the stage (the column lock the moves take, so a move sees a routine change whole or
    not at all) and its routines, and return both, the routines in order."""
    current = Stage.objects.select_for_update(no_key=True).filter(pk=stage.pk).first()
    if current is None or current.is_archived:
        raise SettingsError(_("This stage has been removed."))
    routines = FollowUpRoutine.objects.select_for_update(no_key=True).filter(stage=current)
    return current, sorted(routines.order_by("pk"), key=lambda r: (r.position, r.pk))


def _routines_mark(stage: Stage, routines: list[FollowUpRoutine]) -> None:
    """Keep `Stage.has_routines` in step with the stage's (locked) routines."""
    has_routines = any(r.is_active for r in routines)
    if stage.has_routines != has_routines:
        stage.has_routines = has_routines
        stage.save(update_fields=["has_routines"])


def _check_routine(
    routines: list[FollowUpRoutine],
    *,
    subject: str,
    kind: str,
    due_in_days: int,
    exclude_pk: int | None = None,
) -> None:
    if not subject.strip():
        raise SettingsError(_("Say what to do."), field="subject")
    if len(subject) > FollowUpRoutine._meta.get_field("subject").max_length:
        raise SettingsError(_("Keep “what to do” to 200 characters."), field="subject")
    if kind not in ActivityKind.values:
        raise SettingsError(_("Pick a call, meeting, email or task."), field="kind")
    if not 0 <= due_in_days <= ROUTINE_MAX_DAYS:
        raise SettingsError(
            _("The due date must be 0 to %(max)d working days after entering the stage.")
            % {"max": ROUTINE_MAX_DAYS},
            field="due_in_days",
        )
    for other in routines:
        if (
            other.pk != exclude_pk
            and other.subject.casefold() == subject.casefold()
            and other.due_in_days == due_in_days
        ):
            raise SettingsError(
                _("This stage already plans that activity on that day."), field="subject"
            )


@atomic_with_retry
def routine_create(
    *,
    acting_user: User,
    stage: Stage,
    subject: str,
    kind: str,
    due_in_days: int,
    is_active: bool = True,
) -> FollowUpRoutine:
    """Add a follow-up routine at the end of the stage's list: from now on every deal
    entering the stage gets its activity. Deals already in the stage get nothing (routines
    answer entries, not states). At most ROUTINES_PER_STAGE per stage."""
    current, routines = _lock_routines(stage)
    if len(routines) >= ROUTINES_PER_STAGE:
        raise SettingsError(
            _("A stage can have at most %(max)d follow-up routines.") % {"max": ROUTINES_PER_STAGE}
        )
    _check_routine(routines, subject=subject, kind=kind, due_in_days=due_in_days)
    position = routines[-1].position + 1 if routines else 0
    routine = FollowUpRoutine.objects.create(
        stage=current,
        subject=subject.strip(),
        kind=kind,
        due_in_days=due_in_days,
        is_active=is_active,
        position=position,
    )
    _routines_mark(current, [*routines, routine])
    return routine


@atomic_with_retry
def routine_update(
    *,
    acting_user: User,
    routine: FollowUpRoutine,
    subject: str,
    kind: str,
    due_in_days: int,
    is_active: bool,
) -> FollowUpRoutine:
    """Change a routine (what, kind, due days) or switch it off and on. Activities it
    planned already stay as they are. No write when nothing changed."""
    stage, routines = _lock_routines(routine.stage)
    current = next((r for r in routines if r.pk == routine.pk), None)
    if current is None:
        raise SettingsError(_("This follow-up routine has been removed."))
    _check_routine(
        routines, subject=subject, kind=kind, due_in_days=due_in_days, exclude_pk=current.pk
    )
    changes = {
        "subject": subject.strip(),
        "kind": kind,
        "due_in_days": due_in_days,
        "is_active": is_active,
    }
    changed = [key for key, value in changes.items() if getattr(current, key) != value]
    if changed:
        for key in changed:
            setattr(current, key, changes[key])
        current.save(update_fields=changed)
        _routines_mark(stage, routines)
    return current


@atomic_with_retry
def routine_delete(*, acting_user: User, routine: FollowUpRoutine) -> None:
    """Remove a routine. Activities it planned stay (they are the deals' own now). Removing a
    removed routine changes nothing."""
    stage, routines = _lock_routines(routine.stage)
    FollowUpRoutine.objects.filter(pk=routine.pk).delete()
    _routines_mark(stage, [r for r in routines if r.pk != routine.pk])


@atomic_with_retry
def routine_move(*, acting_user: User, routine: FollowUpRoutine, direction: str) -> bool:
    """Move a routine one place up or down. Returns whether anything changed."""
    _stage, routines = _lock_routines(routine.stage)
    return _move_in_list(routines, routine.pk, direction)


# --- admin lists: lost reasons, product areas ---------------------------------------------


def _move_in_list(rows: list, pk: int, direction: str) -> bool:
    ids = [row.pk for row in rows]
    if pk not in ids:
        raise SettingsError(_("That entry has been removed."))
    index = ids.index(pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
    return _renumber(rows, ids)


def _reorder_list(rows: list, ordered_ids: list[int]) -> bool:
    if len(ordered_ids) != len(set(ordered_ids)) or set(ordered_ids) != {r.pk for r in rows}:
        raise SettingsError(_("The order must list each entry once. Reload and try again."))
    return _renumber(rows, ordered_ids)


def _renumber(rows: list, ordered_ids: list[int]) -> bool:
    """Give `rows` (stages, list entries) positions 0, 1, 2… in the order of `ordered_ids`,
    writing only the rows whose position changed. Returns whether any did."""
    by_pk = {row.pk: row for row in rows}
    changed = []
    for position, pk in enumerate(ordered_ids):
        row = by_pk[pk]
        if row.position != position:
            row.position = position
            changed.append(row)
    if changed:
        type(changed[0]).objects.bulk_update(changed, ["position"])
        shared_changed("labels")
    return bool(changed)


def _lock_list(model) -> list:
    rows = list(model.objects.select_for_update(no_key=True).order_by("pk"))
    return sorted(rows, key=lambda r: (r.position, r.name, r.pk))


def _check_name(model, name: str, *, exclude_pk: int | None = None) -> None:
    taken = model.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise SettingsError(_("That name is taken already (perhaps by a retired entry)."))


def _list_create(model, name: str):
    rows = _lock_list(model)
    _check_name(model, name)
    top = max((r.position for r in rows), default=-1)
    shared_changed("labels")
    return model.objects.create(name=name, position=top + 1)


def _list_rename(model, row, name: str):
    current = model.objects.select_for_update(no_key=True).get(pk=row.pk)
    _check_name(model, name, exclude_pk=current.pk)
    if current.name != name:
        current.name = name
        current.save(update_fields=["name"])
        shared_changed("labels")
    return current


def _list_set_active(model, row, active: bool):
    current = model.objects.select_for_update(no_key=True).get(pk=row.pk)
    if current.is_active != active:
        current.is_active = active
        current.save(update_fields=["is_active"])
        shared_changed("labels")
    return current


# The two lists share one set of services; the model says which list.
AdminListModel = type[LostReason] | type[ProductArea]


@atomic_with_retry
def list_entry_create(*, acting_user: User, model: AdminListModel, name: str):
    """Add an entry at the end of a list (names are unique, case-insensitively)."""
    return _list_create(model, name)


@atomic_with_retry
def list_entry_rename(*, acting_user: User, entry: LostReason | ProductArea, name: str):
    """Rename an entry; deals that have it show the new name. No write when unchanged."""
    return _list_rename(type(entry), entry, name)


@atomic_with_retry
def list_entry_move(*, acting_user: User, entry: LostReason | ProductArea, direction: str) -> bool:
    """Move an entry one place up or down in its list."""
    return _move_in_list(_lock_list(type(entry)), entry.pk, direction)


@atomic_with_retry
def list_entries_reorder(*, acting_user: User, model: AdminListModel, entry_ids: list[int]) -> bool:
    """Order every entry of a list (retired too) as `entry_ids`."""
    return _reorder_list(_lock_list(model), entry_ids)


@atomic_with_retry
def list_entry_set_active(*, acting_user: User, entry: LostReason | ProductArea, active: bool):
    """Retire an entry (no longer offered; deals that have it keep it) or offer it again.
    Idempotent."""
    return _list_set_active(type(entry), entry, active)


# By name, for each list.


def lost_reason_create(*, acting_user: User, name: str) -> LostReason:
    return list_entry_create(acting_user=acting_user, model=LostReason, name=name)


def lost_reason_update(*, acting_user: User, reason: LostReason, name: str) -> LostReason:
    return list_entry_rename(acting_user=acting_user, entry=reason, name=name)


def lost_reason_move(*, acting_user: User, reason: LostReason, direction: str) -> bool:
    return list_entry_move(acting_user=acting_user, entry=reason, direction=direction)


def lost_reason_reorder(*, acting_user: User, reason_ids: list[int]) -> bool:
    return list_entries_reorder(acting_user=acting_user, model=LostReason, entry_ids=reason_ids)


def lost_reason_retire(*, acting_user: User, reason: LostReason) -> LostReason:
    return list_entry_set_active(acting_user=acting_user, entry=reason, active=False)


def lost_reason_restore(*, acting_user: User, reason: LostReason) -> LostReason:
    return list_entry_set_active(acting_user=acting_user, entry=reason, active=True)


def product_area_create(*, acting_user: User, name: str) -> ProductArea:
    return list_entry_create(acting_user=acting_user, model=ProductArea, name=name)


def product_area_update(*, acting_user: User, area: ProductArea, name: str) -> ProductArea:
    return list_entry_rename(acting_user=acting_user, entry=area, name=name)


def product_area_move(*, acting_user: User, area: ProductArea, direction: str) -> bool:
    return list_entry_move(acting_user=acting_user, entry=area, direction=direction)


def product_area_reorder(*, acting_user: User, area_ids: list[int]) -> bool:
    return list_entries_reorder(acting_user=acting_user, model=ProductArea, entry_ids=area_ids)


def product_area_retire(*, acting_user: User, area: ProductArea) -> ProductArea:
    return list_entry_set_active(acting_user=acting_user, entry=area, active=False)


def product_area_restore(*, acting_user: User, area: ProductArea) -> ProductArea:
    return list_entry_set_active(acting_user=acting_user, entry=area, active=True)
