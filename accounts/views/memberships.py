"""A user's role in a team, changed or removed from the user's page or the team's."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import (
    BackForm,
    MembershipRoleForm,
)
from accounts.views.teams import team_page
from accounts.views.users import settings_form_refusal, user_page
from crm.web.refusals import refusal


def _membership_refusal(request, membership, back: str, message: str):
    """htmx: a toast; plain: the page the form was on, with the reason, as 400."""
    if request.htmx:
        return refusal(request, message, status=400)
    if back == "team":
        return team_page(request, membership.team, status=400, error=message)
    member = selectors.user_get_for_settings(user=request.user, pk=membership.user_id)
    return user_page(request, member, status=400, error=message)


def _after_membership_change(request, membership, back: str):
    if back == "team":
        if request.htmx:
            return team_page(request, membership.team, fragment=True)
        return redirect("settings-team-detail", pk=membership.team_id)
    if request.htmx:
        member = selectors.user_get_for_settings(user=request.user, pk=membership.user_id)
        return user_page(request, member, fragment=True)
    return redirect("settings-user-detail", pk=membership.user_id)


def _membership_action(request, pk: int, form_class, change):
    """The shape of both actions: the door (404/403), the form (400), one service (refused:
    the reason), then the page the form was on. `change` returns the confirmation."""
    membership = selectors.membership_get_for_settings(user=request.user, pk=pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return settings_form_refusal(request, form)
    back = form.cleaned_data["back"]
    try:
        message = change(membership, form.cleaned_data)
    except services.UserRuleError as error:
        return _membership_refusal(request, membership, back, error.message)
    if not request.htmx:
        messages.success(request, message)
    return _after_membership_change(request, membership, back)


@login_required
@require_POST
def membership_update(request, pk: int):
    def change(membership, data):
        services.membership_set(
            acting_user=request.user,
            user=membership.user,
            team=membership.team,
            role=data["role"],
        )
        return _("Role changed.")

    return _membership_action(request, pk, MembershipRoleForm, change)


@login_required
@require_POST
def membership_remove(request, pk: int):
    def change(membership, data):
        services.membership_remove(acting_user=request.user, membership=membership)
        return _("%(name)s left %(team)s.") % {"name": membership.user, "team": membership.team}

    return _membership_action(request, pk, BackForm, change)
