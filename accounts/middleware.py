"""Idle timeout and the log line for refused requests."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django_htmx.http import HttpResponseClientRedirect

from accounts.security import security_event

LAST_SEEN_KEY = "_last_seen"


def mark_seen(session) -> None:
    session[LAST_SEEN_KEY] = int(time.time())


class IdleTimeoutMiddleware:
    """Sign out a session that has been idle longer than IDLE_TIMEOUT_MINUTES.

    The session remembers when it was last used, rounded to a minute: it is written at most
    once a minute, so the board and the card moves (many requests a minute) do not pay a
    session write each, as SESSION_SAVE_EVERY_REQUEST would make them. Each write also pushes
    the cookie's expiry (SESSION_COOKIE_AGE, the same length) forward.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.idle_seconds = settings.IDLE_TIMEOUT_MINUTES * 60

    def __call__(self, request):
        if not request.user.is_authenticated:
            if SESSION_KEY in request.session:
                # A session of a user who was deactivated (or whose password changed since):
                # end it here rather than leave it lying in the table.
                request.session.flush()
        else:
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            if isinstance(last_seen, int) and now - last_seen > self.idle_seconds:
                user_id = request.user.pk
                logout(request)  # flushes the session: a new key, the old row deleted
                security_event("session_idle_timeout", request=request, user_id=user_id)
                if request.headers.get("HX-Request") == "true":
                    # A fragment swap would put the sign-in page inside a column: reload.
                    login = redirect_to_login(request.headers.get("HX-Current-URL", "/"))
                    return HttpResponseClientRedirect(login["Location"])
            elif not isinstance(last_seen, int) or now - last_seen >= 60:
                mark_seen(request.session)
        return self.get_response(request)


class RefusalLogMiddleware:
    """Log every 403 answer as `permission_denied` (CSRF failures log their own event)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403 and not getattr(request, "_security_logged", False):
            security_event("permission_denied", request=request)
        return response
