"""People: the answers (read only through the API)."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Schema

from accounts.access import access_for
from accounts.models import Role

RoleName = Literal[tuple(Role.values)]  # type: ignore[valid-type]


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    display_name: str = Field(description="The full name, or the user name.")

    @staticmethod
    def resolve_display_name(user) -> str:
        return str(user)


class UserPage(Schema):
    results: list[UserOut]
    next_cursor: str | None


class MembershipOut(Schema):
    team_id: int
    team_name: str
    role: RoleName


class MeOut(UserOut):
    email: str
    is_admin: bool = Field(description="Admins see and change everything, settings too.")
    memberships: list[MembershipOut]

    @staticmethod
    def resolve_is_admin(user) -> bool:
        return access_for(user).is_admin

    @staticmethod
    def resolve_memberships(user) -> list[dict]:
        memberships = user.memberships.select_related("team").order_by("team__name")
        return [
            {"team_id": m.team_id, "team_name": m.team.name, "role": m.role} for m in memberships
        ]
