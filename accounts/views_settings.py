"""Settings pages for users, teams and memberships: admins only (403 for anyone else signed
in, 404 for unknown ids). Every form also works without JavaScript (POST and redirect);
membership changes answer htmx with the refreshed members table."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import (
    BackForm,
    DeactivateForm,
    MembershipAddForm,
    MembershipRoleForm,
    TeamForm,
    TeamMemberAddForm,
    UserCreateForm,
    UserUpdateForm,
)
from crm.web.refusals import form_refusal, refusal


def _form_refusal(request, form):
    return form_refusal(request, form, fallback=_("That request was not understood."))


# --- users --------------------------------------------------------------------------------


@login_required
@require_GET
def users_list(request):
    users = selectors.users_for_settings(user=request.user)
    return render(request, "settings/users.html", {"users": users})


@login_required
@require_http_methods(["GET", "POST"])
def user_create(request):
    selectors.settings_access(user=request.user)
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "sign_in"}
        try:
            if form.cleaned_data["sign_in"] == UserCreateForm.SIGN_IN_LINK:
                del data["password"]
                user, link = services.user_invite(acting_user=request.user, **data)
                return _link_page(request, member=user, link=link, invited=True)
            user = services.user_create(acting_user=request.user, **data)
        except services.UserRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("%(name)s can sign in now.") % {"name": user})
            return redirect("settings-user-detail", pk=user.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "settings/users_form.html", {"form": form}, status=status)


def _link_page(request, *, member, link: str, invited: bool):
    # Rendered, never redirected to: the link must not sit in a URL or in the session.
    context = {"member": member, "link": link, "invited": invited}
    response = render(request, "settings/users_link.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _user_page(request, member, *, status=200, **forms):
    candidates = selectors.reassign_candidates(member=member)
    context = {
        "member": member,
        "is_self": member.pk == request.user.pk,
        "update_form": forms.get("update_form") or UserUpdateForm(initial=_names(member)),
        "add_form": forms.get("add_form")
        or MembershipAddForm(teams=selectors.teams_without_user(member=member)),
        "deactivate_form": forms.get("deactivate_form") or DeactivateForm(candidates=candidates),
        "work": selectors.user_live_work(member=member),
        "roles": MembershipRoleForm.base_fields["role"].choices,
        "error": forms.get("error"),
    }
    template = "settings/users_detail.html"
    if request.htmx and forms.get("fragment"):
        template += "#memberships"
    return render(request, template, context, status=status)


def _names(member) -> dict:
    return {"first_name": member.first_name, "last_name": member.last_name, "email": member.email}


@login_required
@require_http_methods(["GET", "POST"])
def user_detail(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    if request.method == "GET":
        return _user_page(request, member)
    form = UserUpdateForm(request.POST)
    if not form.is_valid():
        return _user_page(request, member, status=400, update_form=form)
    changed = services.user_update(acting_user=request.user, user=member, **form.cleaned_data)
    messages.success(request, _("Saved.") if changed else _("Nothing to save."))
    return redirect("settings-user-detail", pk=member.pk)


@login_required
@require_POST
def user_membership_add(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    form = MembershipAddForm(request.POST, teams=selectors.teams_without_user(member=member))
    if not form.is_valid():
        return _user_page(request, member, status=400, add_form=form)
    services.membership_set(acting_user=request.user, user=member, **form.cleaned_data)
    messages.success(request, _("Added to %(team)s.") % {"team": form.cleaned_data["team"]})
    return redirect("settings-user-detail", pk=member.pk)


@login_required
@require_POST
def user_deactivate(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    form = DeactivateForm(request.POST, candidates=selectors.reassign_candidates(member=member))
    if not form.is_valid():
        return _user_page(request, member, status=400, deactivate_form=form)
    try:
        handover = services.user_deactivate(
            acting_user=request.user, user=member, reassign_to=form.cleaned_data["reassign_to"]
        )
    except services.UserRuleError as error:
        form.add_error(error.field, error.message)
        return _user_page(request, member, status=400, deactivate_form=form)
    messages.success(
        request,
        _("%(name)s is deactivated; %(deals)d deals and %(companies)d companies handed over.")
        % {"name": member, "deals": handover.deals, "companies": handover.companies},
    )
    return redirect("settings-user-detail", pk=member.pk)


@login_required
@require_POST
def user_reactivate(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    services.user_reactivate(acting_user=request.user, user=member)
    messages.success(request, _("%(name)s can sign in again.") % {"name": member})
    return redirect("settings-user-detail", pk=member.pk)


@login_required
@require_POST
def user_password_link(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    try:
        link = services.user_password_link(acting_user=request.user, user=member)
    except services.UserRuleError as error:
        return _user_page(request, member, status=400, error=error.message)
    return _link_page(request, member=member, link=link, invited=False)


# --- memberships (from the user page or the team page) ------------------------------------


def _membership_refusal(request, membership, back: str, message: str):
    """htmx: a toast; plain: the page the form was on, with the reason, as 400."""
    if request.htmx:
        return refusal(request, message, status=400)
    if back == "team":
        return _team_page(request, membership.team, status=400, error=message)
    member = selectors.user_get_for_settings(user=request.user, pk=membership.user_id)
    return _user_page(request, member, status=400, error=message)


def _after_membership_change(request, membership, back: str):
    if back == "team":
        if request.htmx:
            return _team_page(request, membership.team, fragment=True)
        return redirect("settings-team-detail", pk=membership.team_id)
    if request.htmx:
        member = selectors.user_get_for_settings(user=request.user, pk=membership.user_id)
        return _user_page(request, member, fragment=True)
    return redirect("settings-user-detail", pk=membership.user_id)


@login_required
@require_POST
def membership_update(request, pk: int):
    membership = selectors.membership_get_for_settings(user=request.user, pk=pk)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        return _form_refusal(request, form)
    try:
        services.membership_set(
            acting_user=request.user,
            user=membership.user,
            team=membership.team,
            role=form.cleaned_data["role"],
        )
    except services.UserRuleError as error:
        return _membership_refusal(request, membership, form.cleaned_data["back"], error.message)
    if not request.htmx:
        messages.success(request, _("Role changed."))
    return _after_membership_change(request, membership, form.cleaned_data["back"])


@login_required
@require_POST
def membership_remove(request, pk: int):
    membership = selectors.membership_get_for_settings(user=request.user, pk=pk)
    form = BackForm(request.POST)
    if not form.is_valid():
        return _form_refusal(request, form)
    try:
        services.membership_remove(acting_user=request.user, membership=membership)
    except services.UserRuleError as error:
        return _membership_refusal(request, membership, form.cleaned_data["back"], error.message)
    if not request.htmx:
        messages.success(
            request,
            _("%(name)s left %(team)s.") % {"name": membership.user, "team": membership.team},
        )
    return _after_membership_change(request, membership, form.cleaned_data["back"])


# --- teams --------------------------------------------------------------------------------


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


def _team_page(request, team, *, status=200, fragment=False, **forms):
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
        return _team_page(request, team)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            changed = services.team_update(acting_user=request.user, team=team, **form.cleaned_data)
        except services.UserRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("Saved.") if changed else _("Nothing to save."))
            return redirect("settings-team-detail", pk=team.pk)
    return _team_page(request, team, status=400, team_form=form)


@login_required
@require_POST
def team_member_add(request, pk: int):
    team = selectors.team_get_for_settings(user=request.user, pk=pk)
    form = TeamMemberAddForm(request.POST, users=selectors.users_not_in_team(team=team))
    if not form.is_valid():
        return _team_page(request, team, status=400, add_form=form)
    services.membership_set(acting_user=request.user, team=team, **form.cleaned_data)
    messages.success(request, _("%(name)s joined the team.") % {"name": form.cleaned_data["user"]})
    return redirect("settings-team-detail", pk=team.pk)
