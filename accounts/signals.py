"""Security log lines for sign-in and sign-out, from Django's own auth signals so the Django
admin's login is logged too. Logging only: no business rule hangs on these."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out

from accounts.security import security_event


def _logged_in(sender, request, user, **kwargs):
    security_event("login_ok", request=request, user_id=user.pk)


def _logged_out(sender, request, user, **kwargs):
    security_event("logout", request=request, user_id=getattr(user, "pk", None))


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="accounts.security.login_ok")
    user_logged_out.connect(_logged_out, dispatch_uid="accounts.security.logout")
