"""Deals: the answer, the list's filters and order, create, change, move and the actions
(won, lost, pause, resume, reopen), each carrying the version the client loaded."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, BaseModel

from crm.api.schemas.activities import ActivityKindName, DueDate
from crm.api.schemas.common import Id, PageQuery, SearchText, Version, text
from crm.api.schemas.companies import TierLetter
from pipeline.models import Currency, DealStatus

Money = Annotated[
    Decimal, Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)
]
CurrencyCode = Literal[tuple(Currency.values)]  # type: ignore[valid-type]
StatusName = Literal[tuple(DealStatus.values)]  # type: ignore[valid-type]


class NextStepOut(BaseModel):
    activity_id: int
    subject: str
    due_date: date
    assignee_id: int | None


class DealOut(BaseModel):
    """A deal as the API shows it. A plain pydantic model filled from plain values
    (`deal_values`): the list validates and serialises 100 of them in about a millisecond,
    where reading 30 attributes of 100 model instances field by field cost fifteen."""

    id: int
    title: str
    pipeline_id: int
    stage_id: int
    company_id: int | None
    contact_id: int | None
    owner_id: int | None
    value: Decimal = Field(description="In the deal's currency, as a decimal string.")
    currency: CurrencyCode
    expected_close_date: date | None
    status: StatusName
    lost_reason_id: int | None
    lost_note: str
    lost_from_stage_id: int | None
    paused_until: date | None
    pause_reason: str
    product_area_id: int | None
    next_step: NextStepOut | None = Field(
        description="The earliest open activity; null when there is none."
    )
    needs_attention: bool = Field(description="An open flag: no or overdue next step, stale.")
    need_confirmed: bool
    decision_maker_known: bool
    timeline_confirmed: bool
    stage_entered_at: datetime
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Send it back with every change; a stale one is 409.")


class DealPage(BaseModel):
    results: list[DealOut]
    next_cursor: str | None


_OWN_FIELDS = tuple(name for name in DealOut.model_fields if name != "next_step")
_NEXT_STEP_FIELDS = ("next_step_id", "next_step_subject", "next_step_due", "next_step_assignee_id")
# The columns a deal's answer reads, for `QuerySet.values()`.
DEAL_VALUES = (*_OWN_FIELDS, *_NEXT_STEP_FIELDS)


def deal_values(row) -> dict:
    """A deal's answer from a `.values(*DEAL_VALUES)` row (a dict) or a Deal instance."""
    get = row.__getitem__ if isinstance(row, dict) else row.__getattribute__
    data = {name: get(name) for name in _OWN_FIELDS}
    step = get("next_step_id")
    data["next_step"] = (
        None
        if step is None
        else {
            "activity_id": step,
            "subject": get("next_step_subject"),
            "due_date": get("next_step_due"),
            "assignee_id": get("next_step_assignee_id"),
        }
    )
    return data


OwnerFilter = Annotated[str, Field(pattern=r"^(me|none|[1-9][0-9]{0,17})$")]


def _sane_datetime(value: datetime) -> datetime:
    # Far-off years overflow when converted to UTC for the database.
    if not 1900 <= value.year <= 9000:
        raise ValueError(_("Pick a time between the years 1900 and 9000."))
    return value


SaneDatetime = Annotated[datetime, AfterValidator(_sane_datetime)]


class DealQuery(PageQuery):
    """The deal list's filters (the board's owner, search, needs attention and tier, plus the
    pipeline, stage, status and records) and order."""

    pipeline: Id | None = None
    stage: Id | None = None
    status: list[StatusName] = Field([], description="Any of these (repeat); none: all.")
    owner: OwnerFilter | None = Field(None, description="me, none (unassigned) or a user id.")
    q: SearchText | None = Field(None, description="Title or company name contains.")
    attention: bool | None = Field(None, description="true: only deals that need attention.")
    tier: list[TierLetter] = Field([], description="Company tier is any of these (repeat).")
    company: Id | None = None
    contact: Id | None = None
    updated_since: SaneDatetime | None = Field(None, description="Changed at or after this time.")
    order: Literal[
        "id",
        "-id",
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "value",
        "-value",
        "title",
        "-title",
        "stage_entered_at",
        "-stage_entered_at",
    ] = "id"


class NextStepIn(Schema):
    """A new deal's first next step (what, when, who: null is the deal's owner)."""

    subject: text(200, min_length=1)
    due_date: DueDate
    kind: ActivityKindName = "call"
    due_time: time | None = None
    assignee: Id | None = None


class DealCreate(Schema):
    """A new open deal at the top of `stage`'s column. `owner` left out: whoever creates it;
    giving it to someone else needs a manager of the team."""

    title: text(200, min_length=1)
    stage: Id
    value: Money = Decimal(0)
    currency: CurrencyCode = "EUR"
    company: Id | None = None
    contact: Id | None = None
    owner: Id | None = None
    expected_close_date: date | None = None
    product_area: Id | None = None
    next_step: NextStepIn | None = Field(
        None, description="Planned with the deal, so it never starts without a next step."
    )


class DealChange(Schema):
    """Change a deal's fields (never its stage: that is a move). Only the fields sent change;
    `version` is the one loaded, and a stale one is refused (409) with nothing changed."""

    version: Version
    title: text(200, min_length=1) = None
    value: Money = None
    currency: CurrencyCode = None
    company: Id | None = None
    contact: Id | None = None
    owner: Id | None = None
    expected_close_date: date | None = None
    product_area: Id | None = None
    need_confirmed: bool = None
    decision_maker_known: bool = None
    timeline_confirmed: bool = None


class DealMove(Schema):
    """Move an open deal to `stage` (of its pipeline), below the deal `after` or above the
    deal `before` (neither: top of the column). A forward move must meet the exit criteria of
    each stage it leaves: `criteria` are the ids of those that happened now."""

    stage: Id
    version: Version
    after: Id | None = None
    before: Id | None = None
    criteria: list[Id] = Field([], max_length=50)


class DealVersion(Schema):
    version: Version


class DealLost(Schema):
    version: Version
    reason: Id = Field(description="An active lost reason's id.")
    note: text(2000) = ""


def _resume_date(until: date) -> date:
    today = timezone.localdate()
    if not today < until <= today + timedelta(days=2 * 365):
        raise ValueError(_("Pick a resume date after today, within two years."))
    return until


class DealPause(Schema):
    version: Version
    until: Annotated[date, AfterValidator(_resume_date)]
    reason: text(200, min_length=1)
