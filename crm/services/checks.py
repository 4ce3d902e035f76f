"""The input rules companies and contacts share, and their refusal."""

from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import Membership, Team, User
from crm.models import Company
from crm.rules import RuleError
from crm.selectors import can_edit_company, can_set_tier


class CrmRuleError(RuleError):
    """A write refused by a rule; `field` names the form field the message belongs to."""


def check_team(*, acting_user: User, team: Team) -> None:
    access = access_for(acting_user)
    if not (access.is_admin or team.pk in access.team_ids):
        raise CrmRuleError(_("You can only file companies under your own teams."), field="team")


def check_owner(
    *, acting_user: User, team: Team, owner: User | None, current_owner_id: int | None
) -> None:
    if owner is not None and not Membership.objects.filter(user=owner, team=team).exists():
        raise CrmRuleError(
            _("%(user)s is not a member of %(team)s.") % {"user": owner, "team": team},
            field="owner",
        )
    owner_id = owner.pk if owner is not None else None
    if owner_id in (current_owner_id, acting_user.pk):
        return
    if not access_for(acting_user).manages_team(team.pk):
        raise CrmRuleError(
            _("Only a manager of the team can give a company to someone else."), field="owner"
        )


def check_tier(*, acting_user: User, team_id: int) -> None:
    if not can_set_tier(user=acting_user, team_id=team_id):
        raise CrmRuleError(
            _("Only a manager of the team or an admin can set a tier by hand."), field="tier"
        )


def check_company_editable(*, acting_user: User, company: Company) -> None:
    visible = Company.objects.visible_to(acting_user).filter(pk=company.pk).exists()
    if not (visible and can_edit_company(user=acting_user, company=company)):
        raise CrmRuleError(
            _("You can only file contacts under companies you may change."), field="company"
        )
