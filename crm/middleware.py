"""Security headers Django 5.2 does not set by itself."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

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
    current week are the organisation's wherever the server runs. The row is cached per
    process, so this costs no query on most requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from crm.organisation import activate_organisation_time_zone

        activate_organisation_time_zone()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class DatabaseTroubleMiddleware:
    """Turn the database's own refusals into answers a user can act on, in one place:
    a transaction that lost a race twice (`TryAgain`) is the board's usual 409 refusal (the
    card goes back, the board refreshes), and a database that cannot be reached is a quick 503
    "try again in a moment" instead of a traceback. Errors raised before the view (sessions,
    authentication) reach `crm.errors.handler500`, which answers them the same way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from crm.errors import database_unavailable, refusal
        from crm.transactions import TryAgain, is_database_unavailable, is_transient

        if isinstance(exception, TryAgain) or is_transient(exception):
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
