"""Security headers Django 5.2 does not set by itself."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone


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
