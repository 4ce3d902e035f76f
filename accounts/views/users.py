"""Settings → Users (admins): the list, invite, a user's page, teams, deactivate,
reactivate, a set-password link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import (
    DeactivateForm,
    InvitationForm,
    MembershipAddForm,
    MembershipRoleForm,
    UserCreateForm,
    UserUpdateForm,
)
from crm.web.refusals import form_refusal


def settings_form_refusal(request, form):
    return form_refusal(request, form, fallback=_("That request was not understood."))


@login_required
@require_GET
def users_list(request):
    return users_page(request)


def users_page(request, *, invite_form=None, status: int = 200):
    """The users list with the pending invitations and the invite form."""
    context = {
        "users": selectors.users_for_settings(user=request.user),
        "invitations": selectors.invitations_for_settings(user=request.user),
        "invite_form": invite_form or InvitationForm(),
    }
    return render(request, "settings/users.html", context, status=status)


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


def user_page(request, member, *, status=200, **forms):
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
        "api_tokens": selectors.api_tokens_for_user(user=member),
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
        return user_page(request, member)
    form = UserUpdateForm(request.POST)
    if not form.is_valid():
        return user_page(request, member, status=400, update_form=form)
    changed = services.user_update(acting_user=request.user, user=member, **form.cleaned_data)
    messages.success(request, _("Saved.") if changed else _("Nothing to save."))
    return redirect("settings-user-detail", pk=member.pk)


@login_required
@require_POST
def user_membership_add(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    form = MembershipAddForm(request.POST, teams=selectors.teams_without_user(member=member))
    if not form.is_valid():
        return user_page(request, member, status=400, add_form=form)
    services.membership_set(acting_user=request.user, user=member, **form.cleaned_data)
    messages.success(request, _("Added to %(team)s.") % {"team": form.cleaned_data["team"]})
    return redirect("settings-user-detail", pk=member.pk)


@login_required
@require_POST
def user_deactivate(request, pk: int):
    member = selectors.user_get_for_settings(user=request.user, pk=pk)
    form = DeactivateForm(request.POST, candidates=selectors.reassign_candidates(member=member))
    if not form.is_valid():
        return user_page(request, member, status=400, deactivate_form=form)
    try:
        handover = services.user_deactivate(
            acting_user=request.user, user=member, reassign_to=form.cleaned_data["reassign_to"]
        )
    except services.UserRuleError as error:
        form.add_error(error.field, error.message)
        return user_page(request, member, status=400, deactivate_form=form)
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
        return user_page(request, member, status=400, error=error.message)
    return _link_page(request, member=member, link=link, invited=False)
