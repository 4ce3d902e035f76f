"""Activities and the next step. The deal's next step is its earliest open activity; the
services keep a copy of it on the deal (subject, due date, assignee) so the board shows it
without another query, and resolve the flags a change fixes at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import User
from crm.transactions import atomic_with_retry
from pipeline.models import (
    Activity,
    Deal,
    DealStatus,
    Notification,
    NotificationKind,
)
from pipeline.services.errors import DealRuleError
from pipeline.services.locks import _flags_refresh, _lock_deal, _lock_stages, _moved
from webhooks.models import EventType
from webhooks.services.events import activity_data, deal_data, deal_team, event_record

ACTIVITY_FIELDS = ("kind", "subject", "due_date", "due_time", "assignee", "note")


@dataclass(frozen=True)
class NextStep:
    """The first next step of a new deal (see `deal_create`): what, when, and who (None: the
    deal's owner)."""

    subject: str
    due_date: date
    kind: str = "call"
    due_time: time | None = None
    assignee: User | None = None


def _next_step_refresh(deal: Deal) -> list[str]:
    """Copy the deal's earliest open activity onto the deal; returns the fields to save."""
    upcoming = (
        Activity.objects.filter(deal_id=deal.pk, done_at__isnull=True)
        .order_by("due_date", F("due_time").asc(nulls_last=True), "pk")
        .first()
    )
    deal.next_step = upcoming
    deal.next_step_subject = upcoming.subject if upcoming else ""
    deal.next_step_due = upcoming.due_date if upcoming else None
    deal.next_step_assignee_id = upcoming.assignee_id if upcoming else None
    return ["next_step", "next_step_subject", "next_step_due", "next_step_assignee"]


def _check_assignee(*, deal: Deal, assignee: User | None) -> None:
    if assignee is None:
        return
    in_team = assignee.memberships.filter(team_id=deal.pipeline.team_id).exists()
    if not in_team and not access_for(assignee).is_admin:
        raise DealRuleError(_("The person responsible must be in the deal's team."))


def _notify_assignee(*, acting_user: User | None, activity: Activity) -> None:
    # Without an acting user (a website lead's first step) the owner hears of the lead itself.
    if acting_user is not None and activity.assignee_id and activity.assignee_id != acting_user.pk:
        Notification.objects.create(
            user_id=activity.assignee_id,
            kind=NotificationKind.ACTIVITY_ASSIGNED,
            deal_id=activity.deal_id,
            actor=acting_user,
        )


def _lock(deal: Deal) -> Deal:
    _lock_stages({deal.stage_id})
    current = _lock_deal(deal, None)
    if current.status in (DealStatus.WON, DealStatus.LOST):
        raise DealRuleError(_("This deal is closed. Reopen it to plan a next step."))
    return current


@atomic_with_retry
def activity_create(
    *,
    acting_user: User | None,
    deal: Deal,
    subject: str,
    due_date: date,
    kind: str = "call",
    due_time: time | None = None,
    assignee: User | None = None,
    note: str = "",
) -> Activity:
    """Plan an activity on a deal (it becomes the next step when it is the earliest open one).
    The person responsible defaults to the deal's owner, else the acting user. Assumes the
    caller may edit the deal (`acting_user` None: the product itself, for a website lead).
    Not idempotent: each call plans one more activity."""
    current = _lock(deal)
    assignee = assignee or current.owner or acting_user
    _check_assignee(deal=current, assignee=assignee)
    activity = Activity.objects.create(
        deal=current,
        kind=kind,
        subject=subject,
        due_date=due_date,
        due_time=due_time,
        assignee=assignee,
        note=note,
        created_by=acting_user,
    )
    current.save(update_fields=[*_next_step_refresh(current), "updated_at"])
    _flags_refresh(current)
    _notify_assignee(acting_user=acting_user, activity=activity)
    return activity


@atomic_with_retry
def activity_update(*, acting_user: User, activity: Activity, data: dict) -> Activity:
    """Change an open activity (what, who, when, note). Assumes the caller may change it.
    No write when nothing changed; a done activity is left as it is."""
    current = _lock(activity.deal)
    activity = Activity.objects.select_for_update(no_key=True).get(pk=activity.pk)
    if activity.done_at is not None:
        raise DealRuleError(_("This activity is already done."))
    changes = {k: v for k, v in data.items() if k in ACTIVITY_FIELDS}
    if "assignee" in changes:
        _check_assignee(deal=current, assignee=changes["assignee"])
    changed = [k for k, v in changes.items() if getattr(activity, k) != v]
    if not changed:
        return activity
    for key in changed:
        setattr(activity, key, changes[key])
    activity.save(update_fields=changed)
    current.save(update_fields=[*_next_step_refresh(current), "updated_at"])
    _flags_refresh(current)
    if "assignee" in changed:
        _notify_assignee(acting_user=acting_user, activity=activity)
    return activity


@atomic_with_retry
def activity_complete(*, acting_user: User, activity: Activity, note: str = "") -> Activity:
    """Mark an activity done. Completing is movement: the deal's rotting clock starts again.
    Assumes the caller may change it. Idempotent: a done activity stays as it was."""
    current = _lock(activity.deal)
    activity = Activity.objects.select_for_update(no_key=True).get(pk=activity.pk)
    if activity.done_at is not None:
        return activity
    now = timezone.now()
    activity.done_at = now
    fields = ["done_at"]
    if note:
        activity.note = f"{activity.note}\n{note}".strip()
        fields.append("note")
    activity.save(update_fields=fields)
    current.save(update_fields=[*_next_step_refresh(current), *_moved(current, now), "updated_at"])
    _flags_refresh(current, now=now)
    event_record(
        EventType.ACTIVITY_COMPLETED,
        team_id=deal_team(current),
        data=lambda: {"activity": activity_data(activity), "deal": deal_data(current)},
    )
    return activity
