"""Security log lines for sign-in and sign-out, from Django's own auth signals so the Django
admin's login is logged too; and the idle clock starts at sign-in. No business rule hangs on
these."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out

from accounts.middleware import mark_seen
from accounts.security import security_event


def _logged_in(sender, request, user, **kwargs):
    security_event("login_ok", request=request, user_id=user.pk)
    if hasattr(request, "session"):
        # Signing in is activity: the first request after it needs no session write.
        mark_seen(request.session)


def _logged_out(sender, request, user, **kwargs):
    security_event("logout", request=request, user_id=getattr(user, "pk", None))


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="accounts.security.login_ok")
    user_logged_out.connect(_logged_out, dispatch_uid="accounts.security.logout")
