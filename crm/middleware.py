"""Security headers Django 5.2 does not set by itself."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

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
