"""The bulk path for imported deals: what `deal_create` and the moves do for one deal, done
for thousands in a few statements, inside the import's one transaction.

`DealBulkWriter` is used by `crm.services.imports` (which decides what to create and update)
and keeps every rule the single-deal services keep:

- the pipeline's column locks are taken first and held to the end of the transaction (the
  global lock order: stages, then deals by id, then totals); the deals to update are locked
  in primary-key order, chunk by chunk;
- every created deal gets its stage-history row (`StageChange`, from nothing into its stage),
  every stage change of an updated deal one too, and every change of what the forecast reads
  a `DealRevision` first;
- positions stay unique per open column: imported cards join the bottom of their column in
  the file's order;
- `finish()` plans the chosen first next step for the new open deals, then brings their
  flags (`flags_sync`, the one definition) and the kept column totals
  (`stage_totals_rebuild`) in line.

Permissions are the caller's: `crm.services.imports` checks the pipeline, owners, companies
and which existing deals the user may change before anything reaches this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import F, Max, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from crm.bulk import bulk_insert, reserve_ids
from crm.models import Company, Contact
from pipeline.models import (
    Activity,
    ActivityKind,
    Deal,
    DealRevision,
    DealStatus,
    Flag,
    FollowUpRoutine,
    Notification,
    Pipeline,
    Stage,
    StageChange,
)
from pipeline.services.deals import POSITION_GAP, stage_totals_rebuild
from pipeline.services.flags import flags_sync
from pipeline.services.locks import _lock_stages
from pipeline.services.routines import working_days_after

BULK_SIZE = 1000
# Fields an import may change on an existing deal.
UPDATABLE_FIELDS = (
    "title",
    "value",
    "currency",
    "expected_close_date",
    "owner_id",
    "company_id",
    "contact_id",
    "stage_id",
    "status",
    "lost_reason_id",
)
# The deal's fields a weekly snapshot holds besides its stage (pipeline.services.deals).
REVISED = ("value", "currency", "expected_close_date", "owner_id", "status")


@dataclass(frozen=True)
class FirstStep:
    """The routine choice of an import: give every new open deal without a next step from
    the file this activity, due `days` working days from the import's day."""

    subject: str
    days: int
    kind: str = ActivityKind.TASK


@dataclass
class NewDeal:
    title: str
    stage_id: int
    owner_id: int | None
    value: Decimal = Decimal(0)
    currency: str = "EUR"
    status: str = DealStatus.OPEN
    company_id: int | None = None
    contact_id: int | None = None
    expected_close_date: date | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None
    lost_reason_id: int | None = None
    lost_from_stage_id: int | None = None
    source_system: str = ""
    source_id: str = ""
    # A next step named in the file (subject, due date).
    next_step: tuple[str, date] | None = None


class DealBulkWriter:
    """Writes one import's deals into `pipeline` (see the module's docstring). Create it
    inside the import's transaction; it takes the pipeline's column locks at once."""

    def __init__(
        self,
        *,
        acting_user: User,
        pipeline: Pipeline,
        batch_id: int,
        now: datetime,
        first_step: FirstStep | None = None,
        apply_routines: bool = False,
    ):
        self.acting_user = acting_user
        self.pipeline = pipeline
        self.batch_id = batch_id
        self.now = now
        self.today = timezone.localdate(now)
        self.first_step = first_step
        self.first_due = (
            working_days_after(self.today, first_step.days) if first_step is not None else None
        )
        # The stages' active follow-up routines (pipeline.services.routines), planned for each
        # new open deal as its entry into its stage, as `deal_create` plans them.
        self.routines: dict[int, list[tuple[int, str, str, date]]] = {}
        if apply_routines:
            for routine in FollowUpRoutine.objects.filter(
                stage__pipeline_id=pipeline.pk, is_active=True
            ).order_by("position", "pk"):
                self.routines.setdefault(routine.stage_id, []).append(
                    (
                        routine.pk,
                        routine.subject,
                        routine.kind,
                        working_days_after(self.today, routine.due_in_days),
                    )
                )
        ids = set(Stage.objects.filter(pipeline_id=pipeline.pk).values_list("pk", flat=True))
        self.stages = _lock_stages(ids, pipeline_id=pipeline.pk)
        self.bottom = dict(
            Deal.objects.filter(stage_id__in=ids, status=DealStatus.OPEN)
            .values_list("stage_id")
            .annotate(m=Max("position"))
            .order_by()
        )
        self.updated_ids: list[int] = []
        self.created = 0
        self.touched_stages: set[int] = set()

    def _position(self, stage_id: int) -> int:
        position = self.bottom.get(stage_id)
        position = 0 if position is None else position + POSITION_GAP
        self.bottom[stage_id] = position
        return position

    # -- creating ------------------------------------------------------------------------------

    def _steps(self, row: NewDeal, stage_id: int) -> list[tuple[str, date, str, int | None]]:
        """The activities to plan for a new open deal, as (subject, due, kind, routine): the
        next step the file names, and the stage's follow-up routines when chosen; else the
        first next step of the import, when chosen."""
        steps = []
        if row.next_step is not None:
            steps.append((row.next_step[0], row.next_step[1], ActivityKind.TASK, None))
        for routine_id, subject, kind, due in self.routines.get(stage_id, ()):
            steps.append((subject, due, kind, routine_id))
        if not steps and self.first_step is not None:
            steps.append((self.first_step.subject, self.first_due, self.first_step.kind, None))
        return steps

    def create(self, rows: list[NewDeal]) -> list[int]:
        """Insert the deals (at the bottom of their columns, in order) with their stage-history
        rows and the activities planned for them (`_steps`) and each deal's next-step fields as
        they will be; returns their ids, in order."""
        now = self.now
        deals, plans = [], []
        for row in rows:
            stage = self.stages[row.stage_id]
            is_open = row.status == DealStatus.OPEN
            steps = self._steps(row, stage.pk) if is_open else []
            plans.append(steps)
            first = min(steps, key=lambda step: step[1]) if steps else None
            deals.append(
                {
                    "title": row.title,
                    "value": row.value,
                    "currency": row.currency,
                    "company_id": row.company_id,
                    "contact_id": row.contact_id,
                    "owner_id": row.owner_id,
                    "pipeline_id": self.pipeline.pk,
                    "stage_id": stage.pk,
                    "position": self._position(stage.pk) if is_open else 0,
                    "expected_close_date": row.expected_close_date,
                    "status": row.status,
                    "closed_at": row.closed_at if not is_open else None,
                    "lost_reason_id": row.lost_reason_id,
                    "lost_from_stage_id": row.lost_from_stage_id,
                    "source_system": row.source_system,
                    "source_id": row.source_id,
                    "import_batch_id": self.batch_id,
                    "created_at": row.created_at or now,
                    "stage_entered_at": now,
                    "last_movement_at": now,
                    "rots_at": now + timedelta(days=stage.rot_days),
                    "next_step_subject": first[0] if first else "",
                    "next_step_due": first[1] if first else None,
                    "next_step_assignee_id": (row.owner_id or self.acting_user.pk)
                    if first
                    else None,
                }
            )
        # Where the database gives ids ahead (PostgreSQL), each deal points at its next
        # step's activity as it is written; elsewhere `finish` links them afterwards.
        activity_ids = iter(reserve_ids(Activity, sum(len(steps) for steps in plans)))
        planned_ids = []
        for deal, steps in zip(deals, plans, strict=True):
            ids = [next(activity_ids, None) for _step in steps]
            planned_ids.append(ids)
            if steps and ids[0] is not None:
                earliest = min(range(len(steps)), key=lambda i: steps[i][1])
                deal["next_step_id"] = ids[earliest]
        deal_ids = bulk_insert(Deal, deals, now=now)
        self.created += len(deal_ids)
        self.touched_stages.update(deal["stage_id"] for deal in deals)
        entry_ids = bulk_insert(
            StageChange,
            (
                {
                    "deal_id": pk,
                    "from_stage_id": None,
                    "to_stage_id": deal["stage_id"],
                    "user_id": self.acting_user.pk,
                    "at": now,
                }
                for pk, deal in zip(deal_ids, deals, strict=True)
            ),
            now=now,
        )
        activities, ids = [], []
        for deal_id, entry_id, deal, steps, reserved in zip(
            deal_ids, entry_ids, deals, plans, planned_ids, strict=True
        ):
            for (subject, due, kind, routine_id), activity_id in zip(steps, reserved, strict=True):
                ids.append(activity_id)
                activities.append(
                    {
                        "deal_id": deal_id,
                        "kind": kind,
                        "subject": subject,
                        "due_date": due,
                        "assignee_id": deal["next_step_assignee_id"],
                        "created_by_id": self.acting_user.pk,
                        "created_at": now,
                        "stage_change_id": entry_id if routine_id else None,
                        "routine_id": routine_id,
                    }
                )
        reserved_all = [i for i in ids if i is not None]
        bulk_insert(Activity, activities, now=now, ids=reserved_all or None)
        return deal_ids

    # -- updating ------------------------------------------------------------------------------

    def lock(self, ids: Iterable[int]) -> dict[int, Deal]:
        """The existing deals to compare with the file, locked (after the columns) in
        primary-key order, read fresh."""
        return {
            deal.pk: deal
            for deal in Deal.objects.select_for_update(no_key=True)
            .filter(pk__in=sorted(ids), pipeline_id=self.pipeline.pk)
            .order_by("pk")
        }

    def update(self, changes: list[tuple[Deal, dict]]) -> None:
        """Apply `changes` (a locked deal and its new values, keys from UPDATABLE_FIELDS, each
        different from the deal's): a DealRevision before a change of what the forecast reads,
        a StageChange for a new stage, a fresh position and rotting clock for a deal that
        enters a column or comes back open, closing fields for one that closes; the version
        goes up, so an edit form opened before the import is refused, not saved over it."""
        now = self.now
        revisions, stage_changes, deals = [], [], []
        fields: set[str] = {"version", "updated_at"}
        for deal, new in changes:
            if any(key in REVISED for key in new):
                revisions.append(DealRevision.of(deal, at=now))
            was_open = deal.status == DealStatus.OPEN
            old_stage_id = deal.stage_id
            self.touched_stages.add(old_stage_id)
            for key, value in new.items():
                setattr(deal, key, value)
            fields.update(new)
            is_open = deal.status == DealStatus.OPEN
            if deal.stage_id != old_stage_id:
                stage_changes.append(
                    StageChange(
                        deal_id=deal.pk,
                        from_stage_id=old_stage_id,
                        to_stage_id=deal.stage_id,
                        user=self.acting_user,
                        at=now,
                    )
                )
            if is_open and (deal.stage_id != old_stage_id or not was_open):
                deal.position = self._position(deal.stage_id)
                deal.stage_entered_at = now
                deal.last_movement_at = now
                deal.rots_at = now + timedelta(days=self.stages[deal.stage_id].rot_days)
                if not was_open:
                    deal.closed_at = None
                    deal.lost_from_stage_id = None
                    deal.lost_reason_id = None
                fields.update(
                    {
                        "position",
                        "stage_entered_at",
                        "last_movement_at",
                        "rots_at",
                        "closed_at",
                        "lost_from_stage_id",
                        "lost_reason_id",
                    }
                )
            if was_open and not is_open:
                deal.closed_at = now
                if deal.status == DealStatus.LOST:
                    deal.lost_from_stage_id = old_stage_id
                fields.update({"closed_at", "lost_from_stage_id"})
            self.touched_stages.add(deal.stage_id)
            deal.version += 1
            deal.updated_at = now
            deals.append(deal)
            self.updated_ids.append(deal.pk)
        DealRevision.objects.bulk_create(revisions, batch_size=BULK_SIZE)
        StageChange.objects.bulk_create(stage_changes, batch_size=BULK_SIZE)
        names = sorted(f.removesuffix("_id") for f in fields)
        Deal.objects.bulk_update(deals, names, batch_size=BULK_SIZE)

    # -- after the last row ----------------------------------------------------------------------

    def finish(self) -> None:
        """Plan the next steps not planned yet (SQLite), then bring the flags of every created
        and updated deal and the touched columns' totals in line. Nothing to do when nothing
        was written."""
        if not self.created and not self.updated_ids:
            return
        self._plan_steps()
        _refresh_statistics(Deal, Flag)
        created = Deal.objects.filter(import_batch_id=self.batch_id)
        flags_sync(deals=created, now=self.now, raise_new=True)
        for start in range(0, len(self.updated_ids), BULK_SIZE):
            chunk = self.updated_ids[start : start + BULK_SIZE]
            flags_sync(deals=Deal.objects.filter(pk__in=chunk), now=self.now, raise_new=True)
        # And once more for the flags and notifications just raised, so the pages and the
        # next writes are not planned for the tables as they were before the import.
        _refresh_statistics(Flag, Notification, Activity, StageChange, Company, Contact)
        stage_totals_rebuild(stage_ids=sorted(self.touched_stages))

    def _plan_steps(self) -> None:
        """Where ids could not be taken ahead (SQLite), point each new deal at its next
        step, the earliest of the activities planned for it, now that they are written."""
        earliest = Activity.objects.filter(deal_id=OuterRef("pk"), done_at__isnull=True).order_by(
            "due_date", F("due_time").asc(nulls_last=True), "pk"
        )
        Deal.objects.filter(
            import_batch_id=self.batch_id,
            status=DealStatus.OPEN,
            next_step__isnull=True,
            next_step_due__isnull=False,
        ).update(next_step_id=Subquery(earliest.values("pk")[:1]))


def _refresh_statistics(*models) -> None:
    """Tell PostgreSQL's planner about the rows this transaction wrote (ANALYZE counts them)
    before the next queries join those tables: with the statistics of before the import it
    takes thousands of new deals for one and rescans every open flag for each (minutes for
    50,000 deals instead of a second). The flag scan does the same for its own bulk writes."""
    if connection.vendor == "postgresql":
        tables = ", ".join(model._meta.db_table for model in models)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
