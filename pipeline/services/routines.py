"""Follow-up routines on entry: when a deal enters a stage, the stage's active routines plan
their activities for the deal's owner, in the transaction of the move (or creation) itself.

Rules (docs/product.md, "Follow-up routines"):
- An entry is a StageChange row: creating a deal into a stage, and every move to another
  stage (drag, the deal page's form, the criteria dialog, move back). Reordering within a
  column, reopening, resuming and an admin moving a removed stage's deals write no entry a
  routine answers (see the docs for why), so they plan nothing.
- Each routine plans one activity: its subject and kind, due `due_in_days` working days
  (Monday to Friday) after the entry's date in the organisation's time zone; a weekend entry
  counts from the Monday after. Public holidays are not known.
- The person responsible is the deal's owner; an unassigned deal's routine activities go to
  the person who moved it (as `activity_create` does), else nobody.
- The deal's next step stays its earliest open activity: a routine activity due before the
  current next step (or any, when there is none) becomes the next step, and the move's own
  flag refresh then resolves "no next step" and "overdue".
- Idempotent by construction: the activities hang on the entry's StageChange, one per
  routine (a unique constraint), and a replayed or repeated move writes no new StageChange.

Cost: nothing for a stage without active routines (`Stage.has_routines`, on the locked row the
move holds already); else one SELECT of its routines, one bulk INSERT and, if the next step
changes, one UPDATE of the deal (none for a move, whose own UPDATE writes it).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from crm.organisation import organisation_zone
from pipeline.models import Activity, Deal, FollowUpRoutine, Stage, StageChange

SATURDAY = 5


def working_days_after(start: date, days: int) -> date:
    """The date `days` working days (Monday to Friday) after `start`; a weekend `start`
    counts from the Monday after it, so 0 days from a Saturday is that Monday."""
    day = start
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    weeks, rest = divmod(days, 5)
    day += timedelta(weeks=weeks)
    for _ in range(rest):
        day += timedelta(days=1)
        while day.weekday() >= SATURDAY:
            day += timedelta(days=1)
    return day


# The deal's copy of its next step, which a routine's activity may take over.
NEXT_STEP_FIELDS = ("next_step", "next_step_subject", "next_step_due", "next_step_assignee")


def routines_apply_on_entry(
    *,
    deal: Deal,
    stage: Stage,
    stage_change: StageChange,
    now: datetime,
    write_deal: bool = True,
) -> list[Activity]:
    """Plan the activities of `stage`'s active routines for `deal`, which has just entered it
    (`stage_change` is the entry's row, written in this transaction). Keeps the deal's next
    step fields (in memory and in the row) pointing at its earliest open activity; with
    `write_deal` False only in memory, for a caller that writes the deal next anyway (the
    move: its UPDATE then carries NEXT_STEP_FIELDS too). Callers hold the stage's and the
    deal's locks (so `stage.has_routines` is current) and refresh the deal's flags
    afterwards. Returns the planned activities."""
    if not stage.has_routines:
        return []
    routines = list(
        FollowUpRoutine.objects.filter(stage_id=stage.pk, is_active=True).order_by("position", "pk")
    )
    if not routines:
        return []
    today = timezone.localdate(now, organisation_zone())
    assignee_id = deal.owner_id or stage_change.user_id
    planned = Activity.objects.bulk_create(
        Activity(
            deal_id=deal.pk,
            kind=routine.kind,
            subject=routine.subject,
            due_date=working_days_after(today, routine.due_in_days),
            assignee_id=assignee_id,
            created_by_id=stage_change.user_id,
            created_at=now,
            stage_change_id=stage_change.pk,
            routine_id=routine.pk,
        )
        for routine in routines
    )
    # Next step order is (due date, due time with none last, id): an activity without a time
    # planned now comes after an existing one due the same day, so only an earlier date wins.
    earliest = min(planned, key=lambda a: (a.due_date, a.pk))
    if deal.next_step_due is None or earliest.due_date < deal.next_step_due:
        deal.next_step = earliest
        deal.next_step_subject = earliest.subject
        deal.next_step_due = earliest.due_date
        deal.next_step_assignee_id = earliest.assignee_id
        if write_deal:
            deal.save(update_fields=NEXT_STEP_FIELDS)
    return planned
