"""Who is calling: personal API tokens (`Authorization: Bearer <token>`), and how often.

A token acts with exactly its user's rights: the endpoints read `request.user`, which is set
here to the token's user, and pass it to the same selectors and services as the pages. The
API accepts no session cookie, so a browser signed in to the CRM cannot be made to call it
from another site: with no cookie there is nothing to forge, and the API needs no CSRF token
(docs/decisions.md).

Throttles are the fixed windows every public door uses (`crm/web/ratelimit.py`, in the
shared cache): API_RATE_LIMIT per token, and
API_AUTH_FAILURE_LIMIT per client address for requests with a token that is wrong, so
guessing tokens is slow as well as hopeless.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import HttpError, Throttled
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import ApiToken
from accounts.security import client_address, security_event
from crm.web.ratelimit import rate_hit


class TokenRateThrottle(BaseThrottle):
    """API_RATE_LIMIT requests per token (a fixed window). Over it: 429 with Retry-After,
    the seconds until the window ends. The rate is read per request, so tests and operators
    can change the setting without a restart of the throttle."""

    def __init__(self):
        self._state = threading.local()  # wait() follows allow_request() in the same thread

    def allow_request(self, request: HttpRequest) -> bool:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return True
        # The digest, not the id: ids of a rolled-back test database come back, digests don't.
        check = rate_hit(f"api-token:{token.digest[:24]}", _rate())
        self._state.wait = check.retry_after
        return check.allowed

    def wait(self) -> float | None:
        return getattr(self._state, "wait", None)


def _rate() -> str:
    return settings.API_RATE_LIMIT


class TokenAuth(HttpBearer):
    """`Authorization: Bearer crm_...`: the token's user becomes `request.user`. A wrong
    token counts against the client address (API_AUTH_FAILURE_LIMIT); over the limit, 429.
    A body larger than API_MAX_BODY_BYTES is refused (413) before anything reads it."""

    def __call__(self, request: HttpRequest):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.API_MAX_BODY_BYTES:
            raise HttpError(413, _("The request body is too large."))
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = account_selectors.api_token_for_secret(secret=token.strip())
        if found is None:
            _count_failure(request)
            return None
        account_services.api_token_touch(token=found)
        request.user = found.user
        return found


def _count_failure(request: HttpRequest) -> None:
    address = client_address(request) or "unknown"
    check = rate_hit(f"api-auth-failure:{address}", settings.API_AUTH_FAILURE_LIMIT)
    security_event("api_token_refused", request=request, failures=check.count)
    if not check.allowed:
        raise Throttled(wait=check.retry_after)
