"""Who may see and change what: the `Access` value and the rules on it. Every visibility rule
in the product starts here.

This module imports no model but accounts' own (it reads the memberships), so models and
selectors of every app may import it, never the other way round (docs/architecture.md,
"Imports"). The doors that answer 404 or 403 for one record are in the selectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from accounts.models import Membership, Role, User


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

    def manages_team(self, team_id: int) -> bool:
        return self.is_admin or team_id in self.managed_team_ids

    # --- whose numbers (sales targets) the user may set -----------------------------------

    @property
    def manages_some_teams_only(self) -> bool:
        """Manages some of their teams and sells in others: which reps' numbers they may set
        then depends on the reps' teams (`editable_rep_ids`' `managed_member_ids`)."""
        return (
            not self.is_admin
            and bool(self.managed_team_ids)
            and self.managed_team_ids != self.team_ids
        )

    def editable_rep_ids(
        self, rep_ids: Iterable[int], *, managed_member_ids: Iterable[int] = ()
    ) -> set[int]:
        """Which of `rep_ids` (people the user sees: members of their teams) the user may set
        the numbers of: everyone for an admin and for a manager of every team they are in;
        for someone who manages some teams and sells in others, the members of the teams they
        manage (`managed_member_ids`, needed only then); nobody for a salesperson."""
        if self.is_admin or (self.managed_team_ids and not self.manages_some_teams_only):
            return set(rep_ids)
        if not self.managed_team_ids:
            return set()
        return set(rep_ids) & set(managed_member_ids)


# What `access_for` reads of a user's memberships, one row per membership and pipeline of
# its team: (team id, role, the team's "own deals only", a pipeline id or None).
MEMBERSHIP_FIELDS = ("team_id", "role", "team__own_deals_only", "team__pipelines__id")


def access_for(user: User) -> Access:
    """The user's Access, cached on the user object for the rest of the request (one query;
    none when the sign-in backend read it with the user, `accounts.backends`)."""
    cached = getattr(user, "_crm_access", None)
    if cached is not None:
        return cached
    if not user.is_authenticated or not user.is_active:
        access = Access(user_id=0)
    else:
        rows = Membership.objects.filter(user_id=user.pk).values_list(*MEMBERSHIP_FIELDS)
        access = access_from_memberships(user, list(rows))
    user._crm_access = access
    return access


def access_from_memberships(user: User, rows: Iterable[tuple]) -> Access:
    """The Access of an active, signed-in `user` from their membership rows (see
    MEMBERSHIP_FIELDS)."""
    pipelines: dict[int, set[int]] = {}
    memberships = {}
    for team, role, own, pipeline in rows:
        if team is None:  # no membership at all (a row of the user alone)
            continue
        pipelines.setdefault(team, set())
        if pipeline is not None:
            pipelines[team].add(pipeline)
        memberships[(team, role, own)] = None
    is_admin = user.is_superuser or any(role == Role.ADMIN for _, role, _ in memberships)
    return Access(
        user_id=user.pk,
        is_admin=is_admin,
        team_ids=frozenset(team for team, _, _ in memberships),
        managed_team_ids=frozenset(
            team for team, role, _ in memberships if role in (Role.MANAGER, Role.ADMIN)
        ),
        own_only_team_ids=frozenset(
            team for team, role, own_only in memberships if own_only and role == Role.SALESPERSON
        ),
        team_pipeline_ids={team: frozenset(ids) for team, ids in pipelines.items()},
    )
