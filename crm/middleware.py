"""Security headers Django 5.2 does not set by itself."""

from __future__ import annotations

import logging

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from crm.rules import RuleError
from crm.transactions import TryAgain, is_database_unavailable, is_transient

logger = logging.getLogger(__name__)


class ContentSecurityPolicyMiddleware:
    """Send the Content-Security-Policy from settings on every response: scripts and styles
    only from our own origin, so no inline script can run even if markup slipped through."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class OrganisationTimeZoneMiddleware:
    """Activate the organisation's time zone for the request, so "today", "overdue" and the
    current week are the organisation's wherever the server runs. Each process keeps the row
    while it is current (crm/organisation.py), so this costs no query on most requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from crm.organisation import activate_organisation_time_zone

        activate_organisation_time_zone()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class SetupRequiredMiddleware:
    """Until the first-run set-up is done, lead every page to it (crm.views.setup).

    On an empty install (no user yet) every request but the set-up's own and static files
    (the health checks are answered before this middleware) is redirected to `/setup/`, which
    asks for the token in the server's log; the first redirect of each process writes that
    link to the log. Once the set-up created the first admin, only that admin is led back to
    it (a colleague who accepted an invitation meanwhile is not), until they finish; signing
    out stays possible. Once done, this costs nothing: `setup_status()` remembers it per
    process without a query, and a set-up is never undone."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/")

    def __call__(self, request):
        from crm.selectors.setup import setup_status

        status = setup_status()
        if status.done:
            return self.get_response(request)
        setup_url = reverse("setup")
        path = request.path_info
        if path.startswith((setup_url, self.static_prefix)):
            return self.get_response(request)
        if status.unclaimed:
            from crm.services.setup import setup_token_announce

            setup_token_announce()
            return self._to_setup(request, setup_url)
        user = request.user
        if user.is_authenticated and user.pk == status.admin_id and path != reverse("logout"):
            return self._to_setup(request, setup_url)
        return self.get_response(request)

    @staticmethod
    def _to_setup(request, url: str):
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(url)
        return redirect(url)


class RefusalMiddleware:
    """Refusals answered in one place. A business rule's refusal (`crm.rules.RuleError`) that
    no view showed in its own form is the refusal every page uses (a toast for htmx, a page
    otherwise) with the error's status: 400, or 409 for `TryAgain`, a transaction that lost a
    race twice (the board puts the card back and refreshes). A database that cannot be
    reached is a quick 503 "try again in a moment" instead of a traceback. Errors raised
    before the view (sessions, authentication) reach `crm.web.refusals.handler500`, which answers a
    database outage the same way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from crm.web.refusals import database_unavailable, refusal

        if isinstance(exception, RuleError):
            return refusal(request, str(exception), status=exception.status)
        if is_transient(exception):
            # A transient error reaches here only from a transaction that could not retry
            # itself (it ran inside another): nothing was written, the user can try again.
            return refusal(request, str(TryAgain()), status=TryAgain.status)
        if is_database_unavailable(exception):
            logger.warning(
                "database unavailable during %s %s: %s",
                request.method,
                request.path,
                exception.__class__.__name__,
            )
            return database_unavailable(request)
        return None


class LanguageMiddleware:
    """Activate the request's language (crm/languages.py), in place of Django's
    LocaleMiddleware and where it stood: the switcher's cookie, `Accept-Language`, then the
    organisation's default (Django's cannot know the organisation). The signed-in user's own
    choice is applied after the authentication by `UserLanguageMiddleware`. The same URL in
    every language, so the answer says what it depends on. Like Django's, it leaves the
    language active after the response: a streamed CSV export is written after this returns."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from crm.languages import language_from_request

        language = language_from_request(request)  # no user yet: cookie, header, organisation
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class UserLanguageMiddleware:
    """The signed-in user's own language, once the authentication has loaded their row (no
    query of its own); `LanguageMiddleware` chose for everyone else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from crm.languages import is_supported

        user = request.user
        if user.is_authenticated and is_supported(user.language):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)
