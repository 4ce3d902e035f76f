"""Sign-in with throttling: Django's ModelBackend behind a per-account and per-address lock.

Every path that checks a password through `django.contrib.auth.authenticate` with a request
(our login page, the Django admin's login) passes through here, so none escapes the throttle.

The signed-in user of every request is loaded here too (`get_user`), with their memberships
in the same query, so the access rule costs no query of its own (docs/performance.md).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import F

from accounts import selectors, services
from accounts.access import MEMBERSHIP_FIELDS, access_from_memberships
from accounts.security import client_address, security_event
from crm.compiled import CompiledQuery

_ACCESS_PATHS = [f"memberships__{field}" for field in MEMBERSHIP_FIELDS]


def _user_with_access(user_id):
    return (
        get_user_model()
        ._default_manager.filter(pk=user_id)
        .annotate(**{f"access_{i}": F(path) for i, path in enumerate(_ACCESS_PATHS)})
        .order_by()
    )


# Every request of a signed-in user runs it: compiled once per process, prepared (a lookup by
# key; crm/compiled.py).
USER_WITH_ACCESS = CompiledQuery(get_user_model(), _user_with_access, "user_id", prepare=True)


class ThrottledModelBackend(ModelBackend):
    def get_user(self, user_id):
        """The session's user and, in the same query, what `access_for` reads of their
        memberships (one row per membership and pipeline of its team), kept on the user for
        the request."""
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            return None
        rows = USER_WITH_ACCESS.fetch(user_id=user_id)
        if not rows:
            return None
        user = rows[0]
        if not self.user_can_authenticate(user):
            return None
        user._crm_access = access_from_memberships(
            user,
            [tuple(getattr(row, f"access_{i}") for i in range(len(_ACCESS_PATHS))) for row in rows],
        )
        return user

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None:
            # Not a web sign-in (a management command, the test client's login()).
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        if selectors.login_is_throttled(username=username, address=address):
            # Counted too: a locked account stays locked while someone keeps guessing.
            services.login_failure_record(username=username, address=address)
            security_event("login_locked", request=request, username=username)
            # Spend the hashing time a real check would, so the answer's timing matches too.
            get_user_model()().set_password(password)
            # Django answers with the form's usual "enter a correct username and password":
            # a locked account looks exactly like a wrong password.
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            services.login_failure_record(username=username, address=address)
            security_event("login_failed", request=request, username=username)
            return None
        services.login_failures_clear(username=username)
        return user
