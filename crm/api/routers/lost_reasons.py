"""/lost-reasons: the admin's list of why deals are lost (read only; admins change it on
the settings page)."""

from __future__ import annotations

from django.http import Http404
from ninja import Field, Query, Router

from crm.api.pagination import keyset_page, parse_int
from crm.api.schemas.common import LIST, READ, Id, PageQuery
from crm.api.schemas.lost_reasons import LostReasonOut, LostReasonPage
from pipeline.models import LostReason

router = Router(tags=["lost reasons"])


class LostReasonQuery(PageQuery):
    include_retired: bool = Field(False, description="true: retired reasons too.")


@router.get("/lost-reasons", response={200: LostReasonPage, **LIST}, summary="List reasons")
def lost_reason_list(request, query: Query[LostReasonQuery]):
    """The organisation's lost reasons (the same for everyone), by id."""
    reasons = LostReason.objects.all()
    if not query.include_retired:
        reasons = reasons.filter(is_active=True)
    rows, cursor = keyset_page(
        reasons, order="id", fields={"id": parse_int}, limit=query.limit, cursor=query.cursor
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/lost-reasons/{reason_id}", response={200: LostReasonOut, **READ}, summary="One")
def lost_reason_detail(request, reason_id: Id):
    reason = LostReason.objects.filter(pk=reason_id).first()
    if reason is None:
        raise Http404
    return reason
