"""Health checks for load balancers and container healthchecks.

`/healthz`: the process is alive and answers (no database, no cache, no broker).
`/readyz`: the database, the cache and the Celery broker answer, each with a short timeout;
200 when all do, 503 otherwise, with one "ok" or "unavailable" per part and nothing else (no
versions, hosts or error texts: the failure itself goes to the log).

Both are answered by HealthCheckMiddleware before Django's security, session and
authentication middlewares: a load balancer calls by IP address (not in ALLOWED_HOSTS) over
plain HTTP (no SSL redirect), without a session, and /healthz must not touch the database.
"""

from __future__ import annotations

import logging
import os
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpResponseNotAllowed, JsonResponse

logger = logging.getLogger(__name__)

# Seconds the broker check may wait to connect; the whole /readyz stays within a few seconds.
BROKER_TIMEOUT = 1
OK = "ok"
UNAVAILABLE = "unavailable"


def database_ok() -> bool:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("readiness: database unavailable (%s: %s)", type(error).__name__, error)
        return False
    return True


def cache_ok() -> bool:
    # A key of its own per call: two processes checking at once cannot read each other's value.
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, OK, timeout=10)
        answered = cache.get(key) == OK
        cache.delete(key)
    except Exception as error:
        logger.warning("readiness: cache unavailable (%s: %s)", type(error).__name__, error)
        return False
    if not answered:
        logger.warning("readiness: cache unavailable (a value set was not read back)")
    return answered


def broker_ok() -> bool:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        return filesystem_broker_ok(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    from kombu import Connection

    options = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT, transport_options=options) as conn:
            # One attempt, no retry: the caller (a load balancer) asks again soon anyway.
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    except Exception as error:
        logger.warning("readiness: broker unavailable (%s: %s)", type(error).__name__, error)
        return False
    return True


def filesystem_broker_ok(options: dict) -> bool:
    """The embedded broker is a set of folders: they must exist and be writable."""
    folders = {
        options.get(name)
        for name in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    }
    missing = sorted(
        str(folder)
        for folder in folders
        if not folder or not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK)
    )
    if missing:
        logger.warning("readiness: broker folders missing or not writable: %s", missing)
        return False
    return True


CHECKS = {"database": database_ok, "cache": cache_ok, "broker": broker_ok}


def healthz(request):
    return JsonResponse({"status": OK})


def readyz(request):
    checks = {name: OK if check() else UNAVAILABLE for name, check in CHECKS.items()}
    ready = all(state == OK for state in checks.values())
    return JsonResponse(
        {"status": OK if ready else UNAVAILABLE, "checks": checks},
        status=200 if ready else 503,
    )


HEALTH_VIEWS = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answer /healthz and /readyz before any other middleware (see the module docstring);
    GET and HEAD only, never cached."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = HEALTH_VIEWS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponseNotAllowed(["GET", "HEAD"])
        else:
            response = view(request)
            if request.method == "HEAD":
                response.content = b""
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
