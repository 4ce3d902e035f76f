"""The signed-in user's own page: who they are, their teams, and their personal API tokens
(make one, shown once; see when each was last used; revoke)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services
from accounts.forms import ApiTokenCreateForm, LanguageForm
from crm.web.refusals import form_refusal


def _profile_page(request, *, form=None, secret: str = "", new_token=None, status: int = 200):
    context = {
        "memberships": request.user.memberships.select_related("team").order_by("team__name"),
        "tokens": selectors.api_tokens_for_user(user=request.user),
        "token_form": form or ApiTokenCreateForm(),
        "secret": secret,
        "new_token": new_token,
        "now": timezone.now(),
        "language_form": LanguageForm(initial={"language": request.user.language}),
    }
    response = render(request, "accounts/profile.html", context, status=status)
    if secret:
        # The secret is on this page only: never kept by a browser cache or a proxy.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def profile(request):
    return _profile_page(request)


@login_required
@require_POST
def api_token_create(request):
    """Make a token and show its secret on the answer itself (rendered, not redirected to:
    the secret must not sit in a URL or in the session)."""
    form = ApiTokenCreateForm(request.POST)
    if not form.is_valid():
        return _profile_page(request, form=form, status=400)
    try:
        token, secret = services.api_token_create(
            acting_user=request.user,
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=form.expires_at(timezone.now()),
        )
    except services.UserRuleError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _profile_page(request, form=form, status=400)
    return _profile_page(request, secret=secret, new_token=token)


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    """Revoke one of the user's tokens (an admin: anyone's, then back to their page)."""
    token = selectors.api_token_get_for_user(user=request.user, pk=pk)
    services.api_token_revoke(acting_user=request.user, token=token)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    if token.user_id != request.user.pk:
        return redirect("settings-user-detail", pk=token.user_id)
    return redirect("profile")


def _safe_next(request, candidate: str) -> str:
    """Back to the page the switcher was on: `next`, else the Referer, if it is on this
    site; else the board."""
    for url in (candidate, request.headers.get("Referer", "")):
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return url
    return "/"


@require_POST
def language_set(request):
    """The user menu's switcher and the profile's choice (also before signing in, where
    only the cookie remembers it). A signed-in user's choice is saved on their row and in
    the cookie (the sign-in page after signing out keeps it); a language not offered is
    refused (400) and changes nothing."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        services.user_language_set(acting_user=request.user, user=request.user, language=language)
    response = redirect(_safe_next(request, form.cleaned_data["next"]))
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    else:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response
