"""The first-run set-up (`/setup/`): the token, then organisation, first admin, team and
pipeline, invitations, import. The phases and the token are `crm.selectors.setup`, the writes
`crm.services.setup`; `crm.middleware.SetupRequiredMiddleware` leads every page here until
the set-up is done, and from then on every set-up URL answers 404.

Before the install is claimed, a browser proves it holds the token once (from the link in the
log, or typed in) and its session keeps a fingerprint of it; the organisation's answers wait
in the session until the admin step writes both in one transaction. After that the steps are
the signed-in admin's. Every step is a plain form (no JavaScript needed); a reload shows the
step the set-up stands at.
"""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import access_for
from accounts.security import client_address, security_event
from accounts.selectors import (
    SETUP_TOKEN_KEY,
    invitations_pending_in_team,
    setup_token_is_throttled,
)
from accounts.services import login_failure_record
from crm.forms.organisation import COMMON_TIME_ZONES
from crm.forms.setup import (
    InviteFormSet,
    SetupAdminForm,
    SetupFinishForm,
    SetupOrganisationForm,
    SetupStepForm,
    SetupTeamForm,
    SetupTokenForm,
    invite_rows,
)
from crm.organisation import organisation_get
from crm.rules import RuleError
from crm.selectors.setup import (
    STEP_ADMIN,
    STEP_IMPORT,
    STEP_INVITE,
    STEP_ORGANISATION,
    STEP_TEAM,
    STEPS,
    setup_session_matches,
    setup_status,
    setup_team_for,
    setup_token_fingerprint,
    setup_token_matches,
)
from crm.services import setup as services

SESSION_TOKEN = "setup_token"
SESSION_ORGANISATION = "setup_organisation"
STEP_URLS = {
    STEP_ORGANISATION: "setup-organisation",
    STEP_ADMIN: "setup-admin",
    STEP_TEAM: "setup-team",
    STEP_INVITE: "setup-invite",
    STEP_IMPORT: "setup-import",
}
BACKEND = "accounts.backends.ThrottledModelBackend"
THROTTLE_RETRY_SECONDS = 900


def _status():
    status = setup_status()
    if status.done:
        raise Http404
    return status


def _until_done(view):
    """Every set-up URL answers 404 once the set-up is done, whatever the method."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        _status()
        return view(request, *args, **kwargs)

    return wrapped


def _page(request, template: str, step: str, context: dict, status: int = 200):
    steps = [
        {"key": key, "number": i, "state": _state(key, step)}
        for i, key in enumerate(STEPS, start=1)
    ]
    context = {"steps": steps, "step": step, **context}
    response = render(request, f"setup/{template}.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _state(key: str, current: str) -> str:
    order = STEPS.index(key) - STEPS.index(current)
    return "done" if order < 0 else "current" if order == 0 else "next"


# --- before the install is claimed: the token, the organisation, the first admin ----------


def _token_page(request, form=None, status=200, error=""):
    context = {"form": form or SetupTokenForm(), "error": error}
    return _page(request, "token", STEP_ORGANISATION, context, status)


@_until_done
@require_http_methods(["GET", "POST"])
def setup_start(request):
    """Where every page leads until set-up is done: the token form (or, with `?token=`, the
    link from the log), or the step the set-up stands at."""
    status = _status()
    if status.in_progress:
        return redirect(STEP_URLS[status.step])
    services.setup_token_announce()
    if request.method == "GET" and "token" not in request.GET:
        if setup_session_matches(request.session.get(SESSION_TOKEN, "")):
            return redirect("setup-organisation")
        return _token_page(request)
    form = SetupTokenForm(request.POST if request.method == "POST" else request.GET)
    address = client_address(request)
    if setup_token_is_throttled(address=address):
        error = _("Too many wrong tokens from your address. Try again in a quarter of an hour.")
        response = _token_page(request, status=429, error=error)
        response["Retry-After"] = str(THROTTLE_RETRY_SECONDS)
        return response
    if not form.is_valid():
        return _token_page(request, form, status=400)
    token = form.cleaned_data["token"].strip()
    if not setup_token_matches(token):
        login_failure_record(username=SETUP_TOKEN_KEY, address=address)
        security_event("setup_token_refused", request=request)
        form.add_error("token", _("That is not this CRM's set-up token."))
        return _token_page(request, form, status=403)
    request.session.cycle_key()
    request.session[SESSION_TOKEN] = setup_token_fingerprint(token)
    return redirect("setup-organisation")


def _token_door(request):
    """None when the browser proved the token and the install is still unclaimed; otherwise
    the answer: back to the start for a page, 403 for a form (nothing changes)."""
    status = _status()
    if status.unclaimed and setup_session_matches(request.session.get(SESSION_TOKEN, "")):
        return None
    if request.method == "POST" and status.unclaimed:
        raise PermissionDenied
    return redirect("setup")


def _organisation_initial() -> dict:
    organisation = organisation_get()
    fields = ("name", "reporting_currency", "time_zone", "week_start", "language")
    return {field: getattr(organisation, field) for field in fields}


@_until_done
@require_http_methods(["GET", "POST"])
def setup_organisation(request):
    if answer := _token_door(request):
        return answer
    if request.method == "GET":
        initial = request.session.get(SESSION_ORGANISATION) or _organisation_initial()
        form = SetupOrganisationForm(initial=initial)
        return _page(request, "organisation", STEP_ORGANISATION, _zones(form))
    form = SetupOrganisationForm(request.POST)
    if not form.is_valid():
        return _page(request, "organisation", STEP_ORGANISATION, _zones(form), status=400)
    request.session[SESSION_ORGANISATION] = form.cleaned_data
    return redirect("setup-admin")


def _zones(form) -> dict:
    return {"form": form, "common_time_zones": COMMON_TIME_ZONES}


@_until_done
@require_http_methods(["GET", "POST"])
def setup_admin(request):
    if answer := _token_door(request):
        return answer
    organisation = request.session.get(SESSION_ORGANISATION)
    if not organisation:
        return redirect("setup-organisation")
    form = SetupAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            admin = services.setup_claim(
                **organisation,
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                password=data["password1"],
            )
        except services.SetupAlreadyDone:
            raise
        except RuleError as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            login(request, admin, backend=BACKEND)
            for key in (SESSION_TOKEN, SESSION_ORGANISATION):
                request.session.pop(key, None)
            return redirect("setup-team")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "organisation": organisation}
    return _page(request, "admin", STEP_ADMIN, context, status=status)


# --- after the claim: the signed-in admin's steps -----------------------------------------


def _admin_door(request, step: str):
    """None when the set-up stands at `step` and the user is an admin; otherwise the answer
    (sign in, 403 for anyone else, or the step it stands at)."""
    status = _status()
    if status.unclaimed:
        return redirect("setup")
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not access_for(request.user).is_admin:
        raise PermissionDenied
    if status.step != step:
        return redirect(STEP_URLS[status.step])
    return None


@_until_done
@require_http_methods(["GET", "POST"])
def setup_team(request):
    if answer := _admin_door(request, STEP_TEAM):
        return answer
    form = SetupTeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.setup_team_create(
                acting_user=request.user,
                team_name=form.cleaned_data["team_name"],
                template_key=form.cleaned_data["template"],
                pipeline_name=form.cleaned_data["pipeline_name"],
            )
        except services.SetupAlreadyDone:
            raise
        except RuleError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return redirect("setup-invite")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "templates": services.pipeline_template_options()}
    return _page(request, "team", STEP_TEAM, context, status=status)


@_until_done
@require_http_methods(["GET", "POST"])
def setup_invite(request):
    if answer := _admin_door(request, STEP_INVITE):
        return answer
    team = setup_team_for(admin=request.user)
    formset = InviteFormSet(prefix="invite")
    if request.method == "POST":
        step = SetupStepForm(request.POST)
        if not step.is_valid():
            return _invite_page(request, team, formset, error=_("Unknown action."), status=400)
        if step.cleaned_data["action"] == "next":
            services.setup_step_done(acting_user=request.user, step=STEP_INVITE)
            return redirect("setup-import")
        formset = InviteFormSet(request.POST, prefix="invite")
        if not formset.is_valid() or team is None:
            return _invite_page(request, team, formset, status=400)
        rows = invite_rows(formset)
        if not rows:
            error = _("Enter at least one e-mail address, or carry on without inviting.")
            return _invite_page(request, team, formset, error=error, status=400)
        try:
            services.setup_invitations_create(acting_user=request.user, team=team, invites=rows)
        except services.SetupAlreadyDone:
            raise
        except RuleError as error:
            return _invite_page(request, team, formset, error=error.message, status=400)
        message = _("Invitations sent: %(count)d. Each gets an e-mail with a link.")
        messages.success(request, message % {"count": len(rows)})
        return redirect("setup-invite")
    return _invite_page(request, team, formset)


def _invite_page(request, team, formset, *, error: str = "", status: int = 200):
    invited = invitations_pending_in_team(team=team)
    context = {"team": team, "formset": formset, "error": error, "invited": invited}
    return _page(request, "invite", STEP_INVITE, context, status=status)


def _import_url() -> str | None:
    # The import pages arrive with another change; until then the step offers none.
    try:
        return reverse("import-start")
    except NoReverseMatch:
        return None


@_until_done
@require_http_methods(["GET"])
def setup_import(request):
    if answer := _admin_door(request, STEP_IMPORT):
        return answer
    context = {"import_url": _import_url()}
    return _page(request, "import", STEP_IMPORT, context)


@_until_done
@require_POST
def setup_finish(request):
    if answer := _admin_door(request, STEP_IMPORT):
        return answer
    form = SetupFinishForm(request.POST)
    if not form.is_valid():
        return _page(request, "import", STEP_IMPORT, {"import_url": _import_url()}, status=400)
    services.setup_finish(acting_user=request.user)
    messages.success(request, _("Your CRM is ready. Welcome aboard."))
    if form.cleaned_data["then"] == "import" and (url := _import_url()):
        return redirect(url)
    return redirect("home")
