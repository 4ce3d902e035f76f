"""Activities: the access door, and a user's next steps (overdue, today, coming)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404

from accounts.models import User
from pipeline.forecasting import week_of
from pipeline.models import (
    Activity,
    Deal,
    DealStatus,
)
from pipeline.selectors.deals import can_edit_deal


def activity_get_for_user(*, user: User, pk: int, write: bool = False) -> Activity:
    """The activity with its deal (and the deal's pipeline): 404 when missing or its deal is
    not visible to the user; 403 when `write` and the user may neither edit the deal nor is
    the activity's assignee (the person responsible may complete their own activity)."""
    activity = (
        Activity.objects.filter(pk=pk, deal__in=Deal.objects.visible_to(user).values("pk"))
        .select_related("deal", "deal__pipeline", "deal__stage", "deal__owner", "assignee")
        .first()
    )
    if activity is None:
        raise Http404
    if (
        write
        and activity.assignee_id != user.pk
        and not can_edit_deal(user=user, deal=activity.deal)
    ):
        raise PermissionDenied
    return activity


def activities_for_user(*, user: User):
    """Activities on the deals the user can see (done and open), unordered."""
    return Activity.objects.filter(deal__in=Deal.objects.visible_to(user).values("pk"))


@dataclass
class NextSteps:
    """A user's open activities grouped by when they are due."""

    overdue: list[Activity] = field(default_factory=list)
    today: list[Activity] = field(default_factory=list)
    this_week: list[Activity] = field(default_factory=list)
    later: list[Activity] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.this_week) + len(self.later)


def next_steps_for_user(*, user: User, today: date) -> NextSteps:
    """The open activities the user is responsible for, on open or paused deals they can see,
    grouped overdue (before `today`), today, this week (to the end of the organisation's week)
    and later. One query."""
    end_of_week = week_of(today) + timedelta(days=6)
    rows = (
        Activity.objects.filter(
            assignee_id=user.pk,
            done_at__isnull=True,
            deal__in=Deal.objects.visible_to(user)
            .filter(status__in=[DealStatus.OPEN, DealStatus.PAUSED])
            .values("pk"),
        )
        .select_related("deal", "deal__company", "deal__stage")
        .order_by("due_date", F("due_time").asc(nulls_last=True), "pk")
    )
    steps = NextSteps()
    for activity in rows:
        if activity.due_date < today:
            steps.overdue.append(activity)
        elif activity.due_date == today:
            steps.today.append(activity)
        elif activity.due_date <= end_of_week:
            steps.this_week.append(activity)
        else:
            steps.later.append(activity)
    return steps
