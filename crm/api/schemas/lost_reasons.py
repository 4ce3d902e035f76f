"""Lost reasons: the admin's list, read only through the API."""

from __future__ import annotations

from ninja import Field, Schema


class LostReasonOut(Schema):
    id: int
    name: str
    position: int
    is_active: bool = Field(description="Retired reasons stay on the deals that have them.")


class LostReasonPage(Schema):
    results: list[LostReasonOut]
    next_cursor: str | None
