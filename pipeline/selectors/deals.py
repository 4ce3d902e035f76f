"""A deal: its access door (404 for another team's deal, 403 for one the user may only
see), who may change, reassign or delete it, its stage history and timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.access import access_for
from accounts.models import User
from pipeline.models import (
    Activity,
    Deal,
    LostReason,
    StageChange,
)
from pipeline.selectors.board import BoardFilters, can_manage_pipeline


def can_edit_deal(*, user: User, deal: Deal) -> bool:
    """Python twin of `Deal.objects.editable_by` for a deal already loaded with its pipeline."""
    access = access_for(user)
    team_id = deal.pipeline.team_id
    if access.manages_team(team_id):
        return True
    return team_id in access.team_ids and deal.owner_id in (None, user.pk)


def can_reassign_deal(*, user: User, deal: Deal) -> bool:
    return can_manage_pipeline(user=user, pipeline=deal.pipeline)


def can_delete_deal(*, user: User, deal: Deal) -> bool:
    return can_manage_pipeline(user=user, pipeline=deal.pipeline)


DEAL_PAGE_RELATED = ("pipeline", "stage", "company", "contact", "owner", "lost_reason")


def deal_get_for_user(
    *,
    user: User,
    pk: int,
    write: bool = False,
    related: tuple[str, ...] = DEAL_PAGE_RELATED,
    attention: bool = True,
) -> Deal:
    """The deal, 404 when missing or not visible, 403 when `write` and the user may not edit.
    `related` names what to join (the pipeline is always needed for the access check);
    `attention=False` leaves out `needs_attention` for a caller that reads it anew (the drag
    reads the deal's flags with its lock)."""
    qs = Deal.objects.visible_to(user).select_related("pipeline", *related)
    if attention:
        qs = qs.with_attention()
    deal = qs.filter(pk=pk).order_by().first()
    if deal is None:
        raise Http404
    if write and not can_edit_deal(user=user, deal=deal):
        raise PermissionDenied
    return deal


def deals_for_user(
    *,
    user: User,
    filters: BoardFilters | None = None,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    statuses: tuple[str, ...] = (),
    company_id: int | None = None,
    contact_id: int | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Deal]:
    """The deals the user may see, narrowed by the board's filters (owner, search, needs
    attention, tiers; validated) and by pipeline, stage, statuses, company, contact and last
    change. Unordered and without joins (the API orders and pages it)."""
    qs = Deal.objects.visible_to(user).with_attention()
    if filters is not None:
        qs = filters.apply(qs, user=user)
    narrowing = {
        "pipeline_id": pipeline_id,
        "stage_id": stage_id,
        "company_id": company_id,
        "contact_id": contact_id,
        "updated_at__gte": updated_since,
    }
    qs = qs.filter(**{key: value for key, value in narrowing.items() if value is not None})
    if statuses:
        qs = qs.filter(status__in=statuses)
    return qs


def stage_changes_for_deal(*, deal: Deal) -> QuerySet[StageChange]:
    return deal.stage_changes.select_related("from_stage", "to_stage", "user").order_by(
        "-at", "-pk"
    )


def lost_reasons_active() -> QuerySet[LostReason]:
    return LostReason.objects.filter(is_active=True)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a deal's timeline: an activity (done or open) or a stage change."""

    at: datetime
    activity: Activity | None = None
    change: StageChange | None = None


def _activity_moment(activity: Activity) -> datetime:
    """When an activity sits on the timeline: when it was done, else when it is due (start of
    the due day, or its time, in the organisation's time zone)."""
    if activity.done_at is not None:
        return activity.done_at
    moment = datetime.combine(activity.due_date, activity.due_time or time.min)
    return timezone.make_aware(moment)


def deal_timeline(*, deal: Deal) -> list[TimelineEntry]:
    """The deal's activities (done and open) and stage changes in one list, newest first, in
    two queries. Open activities sit at their due moment, so upcoming ones come first and an
    overdue one among what happened around its date."""
    activities = Activity.objects.filter(deal_id=deal.pk).select_related("assignee")
    entries = [TimelineEntry(at=_activity_moment(a), activity=a) for a in activities]
    entries += [TimelineEntry(at=c.at, change=c) for c in stage_changes_for_deal(deal=deal)]
    return sorted(entries, key=lambda e: (e.at, e.change is None), reverse=True)
