"""Seeing what happens: request ids, the log's filters and JSON format, slow requests.

Every request carries an id: the one a proxy sent in `X-Request-ID` when it looks sane,
otherwise a new one. It is returned in the `X-Request-ID` response header (500s included),
printed on the 500 page for the user to quote, and added to every log line written while the
request runs, so one id finds the access log line, the traceback and the user's report.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection

REQUEST_ID_HEADER = "X-Request-ID"
# Ids from a proxy or a client are copied into logs and headers: only short, plain tokens.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")

_request_id: ContextVar[str] = ContextVar("request_id", default="")

slow_logger = logging.getLogger("crm.requests")


def current_request_id() -> str:
    """The id of the request being answered; empty outside a request."""
    return _request_id.get()


def request_id_from_header(value: str | None) -> str:
    """The incoming id when it is sane, otherwise a new random one."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give the request its id for as long as it runs, and send it back on every answer.

    Placed first in MIDDLEWARE, so errors turned into 4xx and 5xx answers by the middlewares
    inside it are logged with the id and still carry the header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            _request_id.reset(token)


class QueryCounter:
    """A `connection.execute_wrapper` that only counts: one integer add per query."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class SlowRequestMiddleware:
    """Log one WARNING line for a request slower than SLOW_REQUEST_SECONDS (0 logs every
    request), with its method, path, status, time and number of SQL queries.

    Counting through `execute_wrapper` works with DEBUG off and costs a function call per
    query. The time runs until the response is returned: a streamed body is not included.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        counter = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        if elapsed >= settings.SLOW_REQUEST_SECONDS:
            duration_ms = round(elapsed * 1000)
            slow_logger.warning(
                "slow request method=%s path=%s status=%s duration_ms=%s queries=%s",
                one_token(request.method),
                one_token(request.path),
                response.status_code,
                duration_ms,
                counter.count,
                extra={"duration_ms": duration_ms, "queries": counter.count},
            )
        return response


def one_token(value: object, limit: int = 300) -> str:
    """A value as one printable token, so a crafted path cannot forge log lines."""
    text = str(value)[:limit]
    return "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in text) or "-"


class RequestIdFilter(logging.Filter):
    """Add `request_id` to every record a handler writes ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # Django logs a 4xx answer after the middlewares have returned (outside the
            # request's context), but hands the request along with the record.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or current_request_id() or "-"
        return True


class ClientErrorFilter(logging.Filter):
    """A 4xx answer (a 403 from PermissionDenied, a 404, a bad Host) is the client's doing:
    log it as one line, without the traceback Django attaches. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json): timestamp, level, logger, message,
    request_id, and the traceback as `exception` when there is one."""

    # Set by Django, the slow-request line and the security log; useful to filter on.
    EXTRA_FIELDS = ("status_code", "duration_ms", "queries", "security_event")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in self.EXTRA_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, int | float | str):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
