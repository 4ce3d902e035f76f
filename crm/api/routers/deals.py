"""/deals: list, read, create, change, delete, and the actions that change a deal's place or
state: move (with exit criteria), won, lost, pause, resume, reopen. Every change carries the
version the client loaded; a stale one is 409 and changes nothing, as on the board."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse
from ninja import Query, Router, Status

from accounts.selectors import users_visible_to
from crm.api.lookups import body_record, changes, sent
from crm.api.pagination import keyset_page, parse_datetime_value, parse_decimal, parse_int
from crm.api.schemas.common import CREATE, LIST, READ, WRITE, Error, Id
from crm.api.schemas.deals import (
    DEAL_VALUES,
    DealChange,
    DealCreate,
    DealLost,
    DealMove,
    DealOut,
    DealPage,
    DealPause,
    DealQuery,
    DealVersion,
    deal_values,
)
from crm.models import Company, Contact
from pipeline import selectors, services
from pipeline.models import ProductArea, Stage
from pipeline.selectors.board import BoardFilters

router = Router(tags=["deals"])

ORDER_FIELDS = {
    "id": parse_int,
    "created_at": parse_datetime_value,
    "updated_at": parse_datetime_value,
    "stage_entered_at": parse_datetime_value,
    "value": parse_decimal,
    "title": str,
}
ACTION = {**WRITE}
MOVE = {**WRITE, 422: Error}


@router.get("/deals", response={200: DealPage, **LIST}, summary="List deals")
def deal_list(request, query: Query[DealQuery]):
    """The deals the user can see, filtered like the board (owner, search, needs attention,
    tier) and by pipeline, stage, status, company, contact and last change. One query for
    the rows, whatever the page size."""
    filters = BoardFilters(
        owner=query.owner or "any",
        q=query.q or "",
        attention=bool(query.attention),
        tiers=tuple(sorted(set(query.tier))),
    )
    deals = selectors.deals_for_user(
        user=request.user,
        filters=filters,
        pipeline_id=query.pipeline,
        stage_id=query.stage,
        statuses=tuple(query.status),
        company_id=query.company,
        contact_id=query.contact,
        updated_since=query.updated_since,
    )
    rows, cursor = keyset_page(
        deals,
        order=query.order,
        fields=ORDER_FIELDS,
        limit=query.limit,
        cursor=query.cursor,
        values=DEAL_VALUES,
    )
    page = DealPage(results=[deal_values(row) for row in rows], next_cursor=cursor)
    # Validated above; serialised by pydantic in one step rather than dumped to Python
    # values and encoded again (the list's hot path: docs/performance.md).
    return HttpResponse(page.model_dump_json(), content_type="application/json")


@router.get("/deals/{deal_id}", response={200: DealOut, **READ}, summary="A deal")
def deal_detail(request, deal_id: Id):
    return deal_values(selectors.deal_get_for_user(user=request.user, pk=deal_id, related=()))


def _product_areas(deal=None):
    """Areas on offer (retired ones are not), and the deal's own even if retired."""
    current = deal.product_area_id if deal is not None else None
    return ProductArea.objects.filter(Q(is_active=True) | Q(pk=current))


@router.post("/deals", response={201: DealOut, **CREATE}, summary="Create a deal")
def deal_create(request, body: DealCreate):
    """An open deal at the top of the stage's column, with its first next step when given.
    The company must be of the pipeline's team and the contact of that company."""
    user = request.user
    stage = body_record(
        Stage.objects.visible_to(user).active().select_related("pipeline"),
        body.stage,
        field="stage",
    )
    people = users_visible_to(user=user)
    next_step = None
    if body.next_step is not None:
        step = body.next_step
        next_step = services.NextStep(
            subject=step.subject,
            due_date=step.due_date,
            kind=step.kind,
            due_time=step.due_time,
            assignee=body_record(people, step.assignee, field="next_step.assignee"),
        )
    deal = services.deal_create(
        acting_user=user,
        stage=stage,
        title=body.title,
        value=body.value,
        currency=body.currency,
        company=body_record(Company.objects.visible_to(user), body.company, field="company"),
        contact=body_record(Contact.objects.visible_to(user), body.contact, field="contact"),
        owner=body_record(people, body.owner, field="owner"),
        expected_close_date=body.expected_close_date,
        product_area=body_record(_product_areas(), body.product_area, field="product_area"),
        next_step=next_step,
    )
    return Status(201, deal_values(deal))


@router.patch("/deals/{deal_id}", response={200: DealOut, **WRITE}, summary="Change a deal")
def deal_update(request, deal_id: Id, body: DealChange):
    """Changes the fields sent, if `version` is still the deal's (else 409, nothing changed).
    Never moves the deal: that is `move`. Giving it to someone else needs a manager."""
    user = request.user
    deal = selectors.deal_get_for_user(user=user, pk=deal_id, write=True)
    data = changes(
        body,
        (
            "title",
            "value",
            "currency",
            "expected_close_date",
            "need_confirmed",
            "decision_maker_known",
            "timeline_confirmed",
        ),
    )
    lookups = {
        "company": Company.objects.visible_to(user),
        "contact": Contact.objects.visible_to(user),
        "owner": users_visible_to(user=user),
        "product_area": _product_areas(deal),
    }
    for field, queryset in lookups.items():
        if sent(body, field):
            data[field] = body_record(queryset, getattr(body, field), field=field)
    deal = services.deal_update(acting_user=user, deal=deal, version=body.version, data=data)
    return deal_values(deal)


@router.delete(
    "/deals/{deal_id}", response={204: None, **WRITE}, summary="Delete a deal (managers)"
)
def deal_delete(request, deal_id: Id):
    deal = selectors.deal_get_for_user(user=request.user, pk=deal_id, related=())
    if not selectors.can_delete_deal(user=request.user, deal=deal):
        raise PermissionDenied
    services.deal_delete(acting_user=request.user, deal=deal)
    return Status(204, None)


@router.post("/deals/{deal_id}/move", response={200: DealOut, **MOVE}, summary="Move a deal")
def deal_move(request, deal_id: Id, body: DealMove):
    """The board's drop: to `stage` of the deal's pipeline, below `after` (or above `before`,
    or at the top). Forward moves must meet the exit criteria of every stage they leave:
    required ones neither recorded nor in `criteria` refuse the move (422, with the missing
    criteria); ids of other stages' criteria are 400. A stale version is 409."""
    deal = selectors.deal_get_for_user(user=request.user, pk=deal_id, write=True, related=())
    result = services.deal_move(
        acting_user=request.user,
        deal=deal,
        stage_id=body.stage,
        version=body.version,
        after_id=body.after,
        before_id=body.before,
        criteria=sorted(set(body.criteria)),
    )
    return deal_values(result.deal)


def _versioned(request, deal_id: int, action, **values):
    deal = selectors.deal_get_for_user(user=request.user, pk=deal_id, write=True, related=())
    return deal_values(action(acting_user=request.user, deal=deal, **values))


@router.post("/deals/{deal_id}/won", response={200: DealOut, **ACTION}, summary="Mark won")
def deal_mark_won(request, deal_id: Id, body: DealVersion):
    return _versioned(request, deal_id, services.deal_mark_won, version=body.version)


@router.post("/deals/{deal_id}/lost", response={200: DealOut, **ACTION}, summary="Mark lost")
def deal_mark_lost(request, deal_id: Id, body: DealLost):
    """Closes the deal as lost with a reason from the admin's list (`/lost-reasons`)."""
    reason = body_record(selectors.lost_reasons_active(), body.reason, field="reason")
    return _versioned(
        request,
        deal_id,
        services.deal_mark_lost,
        version=body.version,
        reason=reason,
        note=body.note,
    )


@router.post("/deals/{deal_id}/pause", response={200: DealOut, **ACTION}, summary="Pause")
def deal_pause(request, deal_id: Id, body: DealPause):
    """Off the board and out of the forecast until `until`; its rotting clock stops."""
    return _versioned(
        request,
        deal_id,
        services.deal_pause,
        version=body.version,
        until=body.until,
        reason=body.reason,
    )


@router.post("/deals/{deal_id}/resume", response={200: DealOut, **ACTION}, summary="Resume")
def deal_resume(request, deal_id: Id, body: DealVersion):
    return _versioned(request, deal_id, services.deal_resume, version=body.version)


@router.post("/deals/{deal_id}/reopen", response={200: DealOut, **ACTION}, summary="Reopen")
def deal_reopen(request, deal_id: Id, body: DealVersion):
    """Puts a won or lost deal back at the top of the stage it left."""
    return _versioned(request, deal_id, services.deal_reopen, version=body.version)
