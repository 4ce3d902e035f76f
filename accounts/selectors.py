"""Who may see and change what. Every visibility rule in the product starts here."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied

from accounts.models import Membership, Role, Team, User


@dataclass(frozen=True)
class Access:
    """A user's reach, read once per request from their memberships.

    `team_ids` are the teams whose records the user sees; `managed_team_ids` the teams in which
    they may change any deal; `own_only_team_ids` the teams where they see only their own and
    unassigned deals (salespeople in a team set to "own deals only").
    """

    user_id: int
    is_admin: bool = False
    team_ids: frozenset[int] = field(default_factory=frozenset)
    managed_team_ids: frozenset[int] = field(default_factory=frozenset)
    own_only_team_ids: frozenset[int] = field(default_factory=frozenset)
    # Pipelines of each of the user's teams, read in the same query. Deal queries filter on
    # these ids rather than joining pipelines to teams, so the planner sees how many deals a
    # team has (a join left it guessing a few hundred for 100k, and it sorted on disk).
    team_pipeline_ids: dict[int, frozenset[int]] = field(default_factory=dict)

    def pipeline_ids_of(self, team_ids) -> list[int]:
        return sorted(p for t in team_ids for p in self.team_pipeline_ids.get(t, ()))

    @property
    def full_team_ids(self) -> frozenset[int]:
        """Teams where the user sees every record, not only their own."""
        return self.team_ids - self.own_only_team_ids

    def can_see_team(self, team_id: int) -> bool:
        return self.is_admin or team_id in self.team_ids

    def manages_team(self, team_id: int) -> bool:
        return self.is_admin or team_id in self.managed_team_ids


def access_for(user: User) -> Access:
    """The user's Access, cached on the user object for the rest of the request (one query)."""
    cached = getattr(user, "_crm_access", None)
    if cached is not None:
        return cached
    if not user.is_authenticated or not user.is_active:
        access = Access(user_id=0)
    else:
        rows = list(
            Membership.objects.filter(user_id=user.pk).values_list(
                "team_id", "role", "team__own_deals_only", "team__pipelines__id"
            )
        )
        pipelines: dict[int, set[int]] = {}
        for team, _, _, pipeline in rows:
            pipelines.setdefault(team, set())
            if pipeline is not None:
                pipelines[team].add(pipeline)
        rows = list({(team, role, own): None for team, role, own, _ in rows})
        is_admin = user.is_superuser or any(role == Role.ADMIN for _, role, _ in rows)
        access = Access(
            user_id=user.pk,
            is_admin=is_admin,
            team_ids=frozenset(team for team, _, _ in rows),
            managed_team_ids=frozenset(
                team for team, role, _ in rows if role in (Role.MANAGER, Role.ADMIN)
            ),
            own_only_team_ids=frozenset(
                team for team, role, own_only in rows if own_only and role == Role.SALESPERSON
            ),
            team_pipeline_ids={team: frozenset(ids) for team, ids in pipelines.items()},
        )
    user._crm_access = access
    return access


def settings_access(*, user: User) -> None:
    """The door to every settings page: admins only; anyone else signed in gets 403.

    Settings objects (pipelines, stages, teams, users) are organisation-wide, so for a
    settings page there is no "another team's record": a non-admin is refused, not misled.
    Object doors on settings pages still answer 404 for an id that does not exist.
    """
    if not access_for(user).is_admin:
        raise PermissionDenied


def teams_for_user(*, user: User):
    """Teams the user belongs to (all teams for an admin)."""
    access = access_for(user)
    if access.is_admin:
        return Team.objects.all()
    return Team.objects.filter(pk__in=access.team_ids)


def users_visible_to(*, user: User):
    """People the user may pick as owner or filter by: members of the teams they see."""
    access = access_for(user)
    qs = User.objects.filter(is_active=True)
    if not access.is_admin:
        qs = qs.filter(memberships__team_id__in=access.team_ids).distinct()
    return qs.order_by("first_name", "last_name", "username")


def users_of_team(*, team_id: int):
    return (
        User.objects.filter(is_active=True, memberships__team_id=team_id)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
