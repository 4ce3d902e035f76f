"""The open-deal capacity of each salesperson, set by their managers for the lead balance
(docs/product.md, "Lead balance")."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import Membership, Team, User
from crm.transactions import atomic_with_retry
from pipeline.models import CAPACITY_MAX, RepCapacity
from pipeline.services.errors import DealRuleError


@atomic_with_retry
def rep_capacity_set(
    *, acting_user: User, team: Team, user: User, open_deals: int | None
) -> RepCapacity | None:
    """Set how many open deals `user` can carry in `team` (None: remove it, no flag then).
    A manager of the team or an admin; the person must be a member of the team. Idempotent:
    the same value again writes nothing."""
    if not access_for(acting_user).manages_team(team.pk):
        raise PermissionDenied(_("Only the team's managers and admins set capacities."))
    if not Membership.objects.filter(team=team, user=user).exists():
        raise DealRuleError(
            _("%(user)s is not a member of %(team)s.") % {"user": user, "team": team}
        )
    if open_deals is None:
        RepCapacity.objects.filter(team=team, user=user).delete()
        return None
    if not 0 <= open_deals <= CAPACITY_MAX:
        raise DealRuleError(
            _("A capacity is between 0 and %(max)d open deals.") % {"max": CAPACITY_MAX}
        )
    current = (
        RepCapacity.objects.select_for_update(no_key=True).filter(team=team, user=user).first()
    )
    if current is not None and current.open_deals == open_deals:
        return current
    capacity, _created = RepCapacity.objects.update_or_create(
        team=team, user=user, defaults={"open_deals": open_deals, "set_by": acting_user}
    )
    return capacity
