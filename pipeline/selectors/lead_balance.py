"""The lead balance (docs/product.md, "Lead balance"): a team's new leads per ISO week, per
source and per salesperson, over the last weeks, beside each salesperson's open deals and the
open-deal capacity their manager set, flagging who has too many and who too few.

- A lead is a deal created in one of the team's pipelines (any status now); its week is the
  ISO week (Monday to Sunday) of its creation in the organisation's time zone.
- Too many: more open deals than the capacity. Too few: open deals under TOO_FEW_SHARE (60 %)
  of the capacity. No capacity set: no flag. A capacity of 0 (someone on leave) makes any open
  deal "too many".

Managers see the teams they manage, admins every team; salespeople are refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncWeek
from django.http import Http404
from django.utils import timezone

from accounts.access import access_for
from accounts.models import Membership, Role, Team, User
from crm.collation import by_name
from crm.organisation import organisation_zone
from pipeline.models import Deal, DealStatus, Pipeline, RepCapacity

WEEKS = 8
TOO_FEW_SHARE = Decimal("0.6")

TOO_MANY, TOO_FEW, BALANCED, NO_CAPACITY = "too_many", "too_few", "balanced", "no_capacity"


def lead_balance_access(*, user: User) -> None:
    """The door: managers (of any team) and admins; 403 for everyone else."""
    access = access_for(user)
    if not (access.is_admin or access.managed_team_ids):
        raise PermissionDenied


def lead_balance_teams(*, user: User) -> QuerySet[Team]:
    """The teams whose balance the user sees: all for an admin, the managed ones otherwise."""
    lead_balance_access(user=user)
    access = access_for(user)
    teams = Team.objects.order_by(*by_name("name"), "pk")
    return teams if access.is_admin else teams.filter(pk__in=access.managed_team_ids)


def lead_balance_team_get(*, user: User, pk: int) -> Team:
    """One team of the user's balance; 404 for any other (it is another team's record)."""
    team = lead_balance_teams(user=user).filter(pk=pk).first()
    if team is None:
        raise Http404
    return team


def lead_balance_member_get(*, team: Team, pk: int) -> User:
    """A member of `team` whose capacity may be set; 404 for anyone else."""
    member = User.objects.filter(pk=pk, memberships__team=team).first()
    if member is None:
        raise Http404
    return member


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last `weeks` ISO weeks, this week last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def capacity_status(open_deals: int, capacity: int | None) -> str:
    """The flag of the definitions above."""
    if capacity is None:
        return NO_CAPACITY
    if open_deals > capacity:
        return TOO_MANY
    if Decimal(open_deals) < TOO_FEW_SHARE * capacity:
        return TOO_FEW
    return BALANCED


@dataclass
class RepBalance:
    user: User | None  # None: the unassigned leads
    is_salesperson: bool
    weeks: list[int]
    open_deals: int = 0
    capacity: int | None = None

    @property
    def new_leads(self) -> int:
        return sum(self.weeks)

    @property
    def status(self) -> str:
        return capacity_status(self.open_deals, self.capacity)

    @property
    def load(self) -> int | None:
        """Open deals as a percentage of the capacity (None without one; capped for bars)."""
        if not self.capacity:
            return None
        share = Decimal(self.open_deals * 100) / self.capacity
        return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def bar(self) -> int:
        return min(self.load or 0, 150)

    @property
    def key(self) -> str:
        return f"rep-{self.user.pk}" if self.user else "rep-unassigned"


@dataclass
class SourceRow:
    label: str  # "" for deals added in the CRM
    weeks: list[int]

    @property
    def total(self) -> int:
        return sum(self.weeks)


@dataclass
class LeadBalance:
    team: Team
    weeks: list[date]
    reps: list[RepBalance]
    unassigned: RepBalance
    sources: list[SourceRow]
    week_totals: list[int] = field(default_factory=list)
    can_set_capacity: bool = False

    @property
    def total(self) -> int:
        return sum(self.week_totals)

    @property
    def flagged(self) -> list[RepBalance]:
        return [rep for rep in self.reps if rep.status in (TOO_MANY, TOO_FEW)]


def lead_balance_for_team(*, user: User, team: Team, today: date | None = None) -> LeadBalance:
    """The balance of `team` (which the user may see: `lead_balance_team_get`). Six queries:
    the team's pipelines, new deals by week, owner and source, open deals by owner, the
    members, the capacities (and the owners who are not members, only when there are any)."""
    zone = organisation_zone()
    today = today or timezone.localdate(timezone.now(), zone)
    mondays = week_starts(today)
    index = {monday: i for i, monday in enumerate(mondays)}
    start = timezone.make_aware(datetime.combine(mondays[0], time.min), zone)
    pipeline_ids = list(Pipeline.objects.filter(team=team).values_list("pk", flat=True))
    deals = Deal.objects.filter(pipeline_id__in=pipeline_ids)
    new = (
        deals.filter(created_at__gte=start)
        .annotate(week=TruncWeek("created_at", tzinfo=zone))
        .values_list("week", "owner_id", "source")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_owner: dict[int | None, list[int]] = {}
    by_source: dict[str, list[int]] = {}
    week_totals = [0] * len(mondays)
    for week, owner_id, source, count in new:
        i = index.get(_day(week, zone))
        if i is None:
            continue
        by_owner.setdefault(owner_id, [0] * len(mondays))[i] += count
        by_source.setdefault(source or "", [0] * len(mondays))[i] += count
        week_totals[i] += count
    open_by_owner = dict(
        deals.filter(status=DealStatus.OPEN)
        .values_list("owner_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    members = {
        m.user_id: m
        for m in Membership.objects.filter(team=team, user__is_active=True).select_related("user")
    }
    capacities = dict(RepCapacity.objects.filter(team=team).values_list("user_id", "open_deals"))
    owners = {pk for pk in (*by_owner, *open_by_owner) if pk is not None}
    outsiders = User.objects.in_bulk(owners - set(members)) if owners - set(members) else {}
    reps = []
    for user_id, membership in members.items():
        is_salesperson = membership.role == Role.SALESPERSON
        if not is_salesperson and user_id not in owners:
            continue  # a manager or admin who sells nothing here
        reps.append(_rep(membership.user, is_salesperson, by_owner, open_by_owner, capacities))
    for outsider in outsiders.values():
        reps.append(_rep(outsider, False, by_owner, open_by_owner, capacities))
    reps.sort(key=lambda r: (not r.is_salesperson, str(r.user).casefold(), r.user.pk))
    unassigned = RepBalance(
        user=None,
        is_salesperson=False,
        weeks=by_owner.get(None, [0] * len(mondays)),
        open_deals=open_by_owner.get(None, 0),
    )
    sources = [SourceRow(label=label, weeks=weeks) for label, weeks in by_source.items()]
    sources.sort(key=lambda s: (-s.total, s.label == "", s.label.casefold()))
    return LeadBalance(
        team=team,
        weeks=mondays,
        reps=reps,
        unassigned=unassigned,
        sources=sources,
        week_totals=week_totals,
        can_set_capacity=access_for(user).manages_team(team.pk),
    )


def _day(week, zone) -> date:
    """TruncWeek's answer as the Monday's date (an aware datetime in the zone, or a date)."""
    if isinstance(week, datetime):
        return (timezone.localtime(week, zone) if timezone.is_aware(week) else week).date()
    return week


def _rep(user, is_salesperson, by_owner, open_by_owner, capacities) -> RepBalance:
    weeks = by_owner.get(user.pk) or [0] * WEEKS
    return RepBalance(
        user=user,
        is_salesperson=is_salesperson,
        weeks=weeks,
        open_deals=open_by_owner.get(user.pk, 0),
        capacity=capacities.get(user.pk),
    )
