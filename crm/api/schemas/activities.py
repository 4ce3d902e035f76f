"""Activities (next steps): the answer, the list's filters, create, change, complete."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from ninja import Field, Schema

from crm.api.schemas.common import Id, PageQuery, django_checked, text
from pipeline.forms.activities import check_due_date_range
from pipeline.models import ActivityKind

ActivityKindName = Literal[tuple(ActivityKind.values)]  # type: ignore[valid-type]
# Within a year back and three years ahead, as on the pages.
DueDate = Annotated[date, django_checked(check_due_date_range)]


class ActivityOut(Schema):
    id: int
    deal_id: int
    kind: ActivityKindName
    subject: str
    due_date: date
    due_time: time | None
    assignee_id: int | None
    note: str
    done_at: datetime | None
    created_by_id: int | None
    created_at: datetime


class ActivityPage(Schema):
    results: list[ActivityOut]
    next_cursor: str | None


class ActivityQuery(PageQuery):
    deal: Id | None = None
    assignee: Annotated[str, Field(pattern=r"^(me|[1-9][0-9]{0,17})$")] | None = Field(
        None, description="me or a user id."
    )
    done: bool | None = Field(None, description="false: open only; true: done only.")
    due_before: date | None = Field(None, description="Due on or before this date.")
    due_after: date | None = Field(None, description="Due on or after this date.")
    order: Literal["id", "-id", "due_date", "-due_date", "created_at", "-created_at"] = "id"


class ActivityCreate(Schema):
    """Plan an activity on the deal; `assignee` left out: the deal's owner."""

    subject: text(200, min_length=1)
    due_date: DueDate
    kind: ActivityKindName = "call"
    due_time: time | None = None
    assignee: Id | None = None
    note: text(2000) = ""


class ActivityChange(Schema):
    """Change an open activity: only the fields sent change."""

    subject: text(200, min_length=1) = None
    due_date: date = None
    kind: ActivityKindName = None
    due_time: time | None = None
    assignee: Id = None
    note: text(2000) = None


class ActivityComplete(Schema):
    note: text(2000) = ""
