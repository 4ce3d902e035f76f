"""Invitations: admins invite people by e-mail, resend and revoke (Settings → Users); the
invited person accepts through the mailed link, choosing their name and password, and is
signed in."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import InvitationAcceptForm, InvitationForm
from accounts.security import security_event
from accounts.views.users import users_page

# The token moves from the link into the session at the first visit (as Django's
# set-password view does), so it never sits in the address bar or leaks through Referer.
SESSION_TOKEN = "_invitation_token"
ACCEPT_SEGMENT = "accept"
BACKEND = "accounts.backends.ThrottledModelBackend"


@login_required
@require_POST
def invitation_create(request):
    selectors.settings_access(user=request.user)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(acting_user=request.user, **form.cleaned_data)
        except services.UserRuleError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s.") % {"email": invitation.user.email},
            )
            return redirect("settings-users")
    return users_page(request, invite_form=form, status=400)


@login_required
@require_POST
def invitation_resend(request, pk: int):
    invitation = selectors.invitation_get_for_settings(user=request.user, pk=pk)
    services.invitation_resend(acting_user=request.user, invitation=invitation)
    messages.success(
        request,
        _("A new link is on its way to %(email)s; the earlier ones no longer work.")
        % {"email": invitation.user.email},
    )
    return redirect("settings-users")


@login_required
@require_POST
def invitation_revoke(request, pk: int):
    invitation = selectors.invitation_get_for_settings(user=request.user, pk=pk)
    services.invitation_revoke(acting_user=request.user, invitation=invitation)
    messages.success(
        request,
        _("The invitation to %(email)s is withdrawn; its link no longer works.")
        % {"email": invitation.user.email},
    )
    return redirect("settings-users")


@require_http_methods(["GET", "POST"])
def invitation_accept(request, uidb64: str, token: str):
    if token != ACCEPT_SEGMENT:
        if request.method != "GET":
            return _link_dead(request)
        user = selectors.invitation_user_for_link(uidb64=uidb64, token=token)
        if user is None:
            return _link_dead(request)
        request.session[SESSION_TOKEN] = token
        return redirect("invitation-accept", uidb64=uidb64, token=ACCEPT_SEGMENT)
    token = request.session.get(SESSION_TOKEN, "")
    user = selectors.invitation_user_for_link(uidb64=uidb64, token=token)
    if user is None:
        return _link_dead(request)
    initial = {"username": services.invitation_username_suggestion(user=user)}
    form = InvitationAcceptForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.invitation_accept(
                user=user,
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password1"],
            )
        except services.UserRuleError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            request.session.pop(SESSION_TOKEN, None)
            login(request, user, backend=BACKEND)
            messages.success(request, _("Welcome, %(name)s.") % {"name": user})
            return redirect("home")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "invited": user}
    response = render(request, "registration/invitation_accept.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _link_dead(request):
    """Expired, used, revoked, resent since or tampered with: one answer for all."""
    security_event("invitation_link_refused", request=request)
    return render(request, "registration/invitation_accept.html", {"form": None}, status=404)
