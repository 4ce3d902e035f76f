"""/activities and /deals/{id}/activities: a user's and a deal's activities (next steps):
list, read, plan, change, complete."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from ninja import Query, Router, Status

from accounts.selectors import users_visible_to
from crm.api.errors import BadInput
from crm.api.lookups import body_record, changes, sent
from crm.api.pagination import keyset_page, parse_date_value, parse_datetime_value, parse_int
from crm.api.schemas.activities import (
    ActivityChange,
    ActivityComplete,
    ActivityCreate,
    ActivityOut,
    ActivityPage,
    ActivityQuery,
)
from crm.api.schemas.common import LIST, READ, WRITE, Id
from pipeline import selectors, services
from pipeline.forms.activities import check_due_date_range

router = Router(tags=["activities"])

ORDER_FIELDS = {
    "id": parse_int,
    "due_date": parse_date_value,
    "created_at": parse_datetime_value,
}


@router.get("/activities", response={200: ActivityPage, **LIST}, summary="List activities")
def activity_list(request, query: Query[ActivityQuery]):
    """Activities on the deals the user can see."""
    activities = selectors.activities_for_user(user=request.user)
    if query.deal is not None:
        activities = activities.filter(deal_id=query.deal)
    if query.assignee is not None:
        assignee = request.user.pk if query.assignee == "me" else int(query.assignee)
        activities = activities.filter(assignee_id=assignee)
    if query.done is not None:
        activities = activities.filter(done_at__isnull=not query.done)
    if query.due_before is not None:
        activities = activities.filter(due_date__lte=query.due_before)
    if query.due_after is not None:
        activities = activities.filter(due_date__gte=query.due_after)
    rows, cursor = keyset_page(
        activities, order=query.order, fields=ORDER_FIELDS, limit=query.limit, cursor=query.cursor
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/activities/{activity_id}", response={200: ActivityOut, **READ}, summary="An activity")
def activity_detail(request, activity_id: Id):
    return selectors.activity_get_for_user(user=request.user, pk=activity_id)


@router.post(
    "/deals/{deal_id}/activities",
    response={201: ActivityOut, **WRITE},
    summary="Plan an activity on a deal",
)
def activity_create(request, deal_id: Id, body: ActivityCreate):
    """Becomes the deal's next step when it is the earliest open one. The person responsible
    (left out: the deal's owner) must be in the deal's team."""
    user = request.user
    deal = selectors.deal_get_for_user(user=user, pk=deal_id, write=True, related=())
    activity = services.activity_create(
        acting_user=user,
        deal=deal,
        subject=body.subject,
        due_date=body.due_date,
        kind=body.kind,
        due_time=body.due_time,
        assignee=body_record(users_visible_to(user=user), body.assignee, field="assignee"),
        note=body.note,
    )
    return Status(201, activity)


@router.patch(
    "/activities/{activity_id}", response={200: ActivityOut, **WRITE}, summary="Change one"
)
def activity_update(request, activity_id: Id, body: ActivityChange):
    """Changes an open activity; needs the right to change its deal."""
    user = request.user
    activity = selectors.activity_get_for_user(user=user, pk=activity_id)
    if not selectors.can_edit_deal(user=user, deal=activity.deal):
        raise PermissionDenied
    data = changes(body, ("subject", "kind", "due_date", "due_time", "note"))
    if "due_date" in data and data["due_date"] != activity.due_date:
        _check_due_date(data["due_date"])
    if sent(body, "assignee"):
        data["assignee"] = body_record(users_visible_to(user=user), body.assignee, field="assignee")
    return services.activity_update(acting_user=user, activity=activity, data=data)


def _check_due_date(due) -> None:
    try:
        check_due_date_range(due)
    except ValidationError as error:
        raise BadInput.field("due_date", " ".join(error.messages)) from None


@router.post(
    "/activities/{activity_id}/complete",
    response={200: ActivityOut, **WRITE},
    summary="Mark done",
)
def activity_complete(request, activity_id: Id, body: ActivityComplete):
    """Completing is movement: the deal's rotting clock starts again. The deal's editors and
    the person responsible may complete it. Completing a done activity changes nothing."""
    activity = selectors.activity_get_for_user(user=request.user, pk=activity_id, write=True)
    return services.activity_complete(acting_user=request.user, activity=activity, note=body.note)
