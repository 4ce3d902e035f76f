"""Request ids, error logging, the log's JSON format and the slow-request line.

The views below are served through this module as ROOT_URLCONF, in front of the project's
own URLs and error handlers."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import path, reverse

from accounts.models import User
from crm.observability import current_request_id
from crm.urls import handler400, handler403, handler404, handler500  # noqa: F401
from crm.urls import urlpatterns as project_urlpatterns
from crm.web.refusals import handler500 as project_handler500

ROOT = Path(__file__).resolve().parent.parent
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def boom(request):
    raise RuntimeError("boom from a view")


def boom_with_database(request):
    User.objects.count()  # the database is down (no `db` fixture: access is refused)
    return HttpResponse("unreachable")


def forbidden(request):
    raise PermissionDenied


def echo_request_id(request):
    return HttpResponse(current_request_id())


def three_queries(request):
    for _ in range(3):
        User.objects.exists()
    return HttpResponse("ok")


urlpatterns = [
    path("test/boom/", boom),
    path("test/boom-database/", boom_with_database),
    path("test/forbidden/", forbidden),
    path("test/echo/", echo_request_id),
    path("test/queries/", three_queries),
    *project_urlpatterns,
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def quiet_client():
    """A client that answers a view's exception with the 500 page, as a server does."""
    return Client(raise_request_exception=False)


def console_line(record: logging.LogRecord) -> str:
    """The record as the configured console handler writes it."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert handler.filter(record)
    return handler.format(record)


def request_records(caplog, status: int) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "django.request" and getattr(r, "status_code", None) == status
    ]


# Request ids


def test_a_request_gets_a_new_id_each_time(client, db):
    first = client.get("/test/echo/")
    second = client.get("/test/echo/")

    assert GENERATED_ID.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert first.text == first["X-Request-ID"]  # the view sees the same id


def test_a_sane_incoming_id_is_kept(client, db):
    response = client.get("/test/echo/", headers={"X-Request-ID": "lb-7f3a.42_B"})

    assert response["X-Request-ID"] == "lb-7f3a.42_B"
    assert response.text == "lb-7f3a.42_B"


@pytest.mark.parametrize(
    "incoming",
    ["", "two words", "a" * 201, "id;rm -rf", "<script>", "café"],
)
def test_a_malformed_incoming_id_is_replaced(client, db, incoming):
    response = client.get("/test/echo/", headers={"X-Request-ID": incoming})

    assert GENERATED_ID.fullmatch(response["X-Request-ID"])
    assert response.text == response["X-Request-ID"]


def test_an_id_of_200_characters_is_kept(client, db):
    incoming = "a" * 200
    assert client.get("/test/echo/", headers={"X-Request-ID": incoming})["X-Request-ID"] == incoming


def test_the_id_is_gone_after_the_request(client, db):
    client.get("/test/echo/")

    assert current_request_id() == ""


def test_4xx_answers_carry_the_id(client, alice):
    assert GENERATED_ID.fullmatch(client.get("/no-such-page/")["X-Request-ID"])
    client.force_login(alice)
    refused = client.get(reverse("settings-users"))
    assert refused.status_code == 403
    assert GENERATED_ID.fullmatch(refused["X-Request-ID"])


def test_a_bad_host_answer_carries_the_id(client, db):
    response = client.get("/test/echo/", headers={"X-Request-ID": "abc"}, HTTP_HOST="evil.test")

    assert response.status_code == 400
    assert response["X-Request-ID"] == "abc"


# 500: the page, the header and the log


def test_a_500_shows_its_request_id_in_the_header_and_on_the_page(quiet_client, db):
    response = quiet_client.get("/test/boom/", headers={"X-Request-ID": "req-500-page"})

    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-500-page"
    assert "Something went wrong on our side" in response.text
    assert "<code>req-500-page</code>" in response.text
    assert "boom from a view" not in response.text


def test_the_500_page_is_shown_when_the_database_is_down(quiet_client):
    """No `db` fixture: pytest-django refuses every query, as a database that is down would."""
    response = quiet_client.get("/test/boom-database/")

    assert response.status_code == 500
    assert f"<code>{response['X-Request-ID']}</code>" in response.text


def test_the_500_page_reads_nothing_from_the_database(rf, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        response = project_handler500(rf.get("/"))
    assert response.status_code == 500


def test_a_500_is_logged_with_its_traceback_and_request_id(quiet_client, db, caplog):
    response = quiet_client.get("/test/boom/")

    [record] = request_records(caplog, 500)
    assert record.levelno == logging.ERROR
    assert record.request_id == response["X-Request-ID"]
    line = console_line(record)
    assert f"[{response['X-Request-ID']}]" in line
    assert "Traceback (most recent call last)" in line
    assert "RuntimeError: boom from a view" in line


def test_a_403_is_logged_as_one_line_without_a_traceback(client, db, caplog):
    response = client.get("/test/forbidden/")

    assert response.status_code == 403
    [record] = request_records(caplog, 403)
    line = console_line(record)
    assert "Forbidden (Permission denied): /test/forbidden/" in line
    assert f"[{response['X-Request-ID']}]" in line
    assert "\n" not in line and "Traceback" not in line


def test_a_404_is_logged_as_one_line_without_a_traceback(client, db, caplog):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    [record] = request_records(caplog, 404)
    line = console_line(record)
    assert "Not Found: /no-such-page/" in line
    assert "\n" not in line and "Traceback" not in line


def test_security_events_carry_the_request_id(client, alice, caplog):
    caplog.set_level(logging.INFO, logger="crm.security")
    client.force_login(alice)

    response = client.get(reverse("settings-users"))

    [record] = [
        r for r in caplog.records if getattr(r, "security_event", "") == "permission_denied"
    ]
    assert record.request_id == response["X-Request-ID"]


# JSON format


JSON_SCRIPT = """
import logging, django
django.setup()
from crm.observability import _request_id
logging.getLogger("crm").info("outside a request")
token = _request_id.set("req-json-1")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("django.request").error("Internal Server Error: /x/", exc_info=True,
                                              extra={"status_code": 500})
    logging.getLogger("django.request").warning("Forbidden: /y/", exc_info=True,
                                                extra={"status_code": 403})
logging.getLogger("crm.security").info("event=logout\\nforged")
"""


def test_json_format_writes_one_object_per_line_with_the_request_id():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
        "LOG_FORMAT": "json",
    }
    result = subprocess.run(
        [sys.executable, "-c", JSON_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

    lines = result.stderr.strip().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 4
    outside, error, forbidden_entry, security = entries
    assert outside["request_id"] == "-" and outside["message"] == "outside a request"
    assert {"timestamp", "level", "logger", "message", "request_id"} <= error.keys()
    assert error["level"] == "ERROR" and error["logger"] == "django.request"
    assert error["request_id"] == "req-json-1" and error["status_code"] == 500
    assert "ZeroDivisionError" in error["exception"] and "Traceback" in error["exception"]
    assert forbidden_entry["status_code"] == 403 and "exception" not in forbidden_entry
    assert security["message"] == "event=logout\nforged"  # escaped inside its one line


# Slow requests


@override_settings(SLOW_REQUEST_SECONDS=0)
def test_a_slow_request_logs_one_line_with_its_time_and_query_count(client, db, caplog):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/test/queries/")

    [record] = [r for r in caplog.records if r.name == "crm.requests"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("slow request method=GET path=/test/queries/ status=200 ")
    assert re.search(r" duration_ms=\d+ ", message)
    assert len(queries) >= 3
    assert f" queries={len(queries)}" in message
    assert record.request_id == response["X-Request-ID"]


@override_settings(SLOW_REQUEST_SECONDS=60)
def test_a_quick_request_logs_nothing(client, db, caplog):
    client.get("/test/queries/")

    assert [r for r in caplog.records if r.name == "crm.requests"] == []


@override_settings(SLOW_REQUEST_SECONDS=0)
def test_a_crafted_path_cannot_forge_a_slow_request_line(client, db, caplog):
    client.get("/test/queries/%0Aslow%20request%20path=/admin/")

    [record] = [r for r in caplog.records if r.name == "crm.requests"]
    assert "\n" not in record.getMessage() and " path=/admin/" not in record.getMessage()


def test_an_answer_logged_after_the_middlewares_still_names_its_request():
    """Django logs a 4xx the view returned (a 400, a 409) after every middleware has
    returned, outside the request's context; the record carries the request, and its id."""
    from crm.observability import RequestIdFilter

    request = RequestFactory().get("/")
    request.request_id = "req-after-the-chain"
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Conflict", (), None)
    record.request = request
    RequestIdFilter().filter(record)
    assert record.request_id == "req-after-the-chain"
