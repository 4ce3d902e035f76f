"""Settings → Teams (admins): the list, a team's page, adding members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import (
    MembershipRoleForm,
    TeamForm,
    TeamMemberAddForm,
)


@login_required
@require_http_methods(["GET", "POST"])
def teams_list(request):
    teams = selectors.teams_for_settings(user=request.user)
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(acting_user=request.user, **form.cleaned_data)
        except services.UserRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("Team %(team)s added.") % {"team": team})
            return redirect("settings-team-detail", pk=team.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "settings/teams.html", {"teams": teams, "form": form}, status=status)


def team_page(request, team, *, status=200, fragment=False, **forms):
    context = {
        "team": team,
        "members": selectors.team_members(team=team),
        "team_form": forms.get("team_form")
        or TeamForm(initial={"name": team.name, "own_deals_only": team.own_deals_only}),
        "add_form": forms.get("add_form")
        or TeamMemberAddForm(users=selectors.users_not_in_team(team=team)),
        "roles": MembershipRoleForm.base_fields["role"].choices,
        "error": forms.get("error"),
    }
    template = "settings/teams_detail.html"
    if request.htmx and fragment:
        template += "#members"
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def team_detail(request, pk: int):
    team = selectors.team_get_for_settings(user=request.user, pk=pk)
    if request.method == "GET":
        return team_page(request, team)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            changed = services.team_update(acting_user=request.user, team=team, **form.cleaned_data)
        except services.UserRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("Saved.") if changed else _("Nothing to save."))
            return redirect("settings-team-detail", pk=team.pk)
    return team_page(request, team, status=400, team_form=form)


@login_required
@require_POST
def team_member_add(request, pk: int):
    team = selectors.team_get_for_settings(user=request.user, pk=pk)
    form = TeamMemberAddForm(request.POST, users=selectors.users_not_in_team(team=team))
    if not form.is_valid():
        return team_page(request, team, status=400, add_form=form)
    services.membership_set(acting_user=request.user, team=team, **form.cleaned_data)
    messages.success(request, _("%(name)s joined the team.") % {"name": form.cleaned_data["user"]})
    return redirect("settings-team-detail", pk=team.pk)
