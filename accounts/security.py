"""Client addresses and the security event log.

Events go to the `crm.security` logger as one line each: `event=<name> key=value ...`.
Callers pass ids, usernames, addresses and paths, never passwords, session ids, CSRF tokens
or set-password links; `security_event` also drops any field whose name says it holds one.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings

logger = logging.getLogger("crm.security")

# Names of fields that must never reach the log, whatever a caller passes.
SECRET_FIELDS = ("password", "token", "session", "csrf", "secret", "link", "cookie")


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the address the trusted proxy put last into
    X-Forwarded-For when TRUSTED_PROXY_COUNT says that many proxies stand in front.

    Never trust X-Forwarded-For without a proxy that sets it: anyone could send one and
    escape the per-address throttle.
    """
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    candidate = request.META.get("REMOTE_ADDR", "")
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _clean(value) -> str:
    """One token per value: no spaces or line breaks a crafted username could use to forge
    log lines."""
    text = str(value)[:150]
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in text) or "-"


def security_event(event: str, *, request=None, level: int = logging.INFO, **fields) -> None:
    """Log one security event with the client address, the signed-in user's id and the path."""
    data: dict[str, object] = {}
    if request is not None:
        data["address"] = client_address(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "user_id" not in fields:
            data["user_id"] = user.pk
        data["method"] = request.method
        data["path"] = request.path
    data.update(fields)
    safe = {
        key: value
        for key, value in data.items()
        if not any(secret in key.lower() for secret in SECRET_FIELDS)
    }
    message = " ".join([f"event={event}", *(f"{k}={_clean(v)}" for k, v in safe.items())])
    logger.log(level, message, extra={"security_event": event, "security_fields": safe})
