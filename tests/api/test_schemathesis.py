"""The API against its own OpenAPI schema, with schemathesis: for an admin's, a manager's and
a salesperson's token, generated requests to every operation (valid and invalid ones) never
get a 5xx, and every answer (status code, content type, body) is what the schema says.

Run in-process against the WSGI app, on the test database, with a bounded number of
examples per operation so the three roles take well under a minute together. Half of the
generated path ids are swapped for ids of real records (the user's own, their team's and
another team's), so the answers include 200, 403 and 404, not only "not found"."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.api.app import api
from tests.api.conftest import make_token

EXAMPLES_PER_OPERATION = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Built from the API object itself (no request, no database at collection time); the calls
# go to the WSGI app in-process.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema())))
schema.location = "/api/v1/openapi.json"
_app: dict = {}


@pytest.fixture(autouse=True)
def _in_process(db, settings):
    """As Django's test client does, requests keep the test's database connection (the
    WSGI handler would close it after each one), and the in-process host is allowed."""
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    # Built now, after the test settings (plain HTTP) are in place: the middlewares read them
    # when they are made.
    _app["wsgi"] = get_wsgi_application()
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _real_ids(world) -> list[int]:
    return sorted({record.pk for record in world.values()})


def _call(case, token, world) -> None:
    if case.path_parameters:
        ids = _real_ids(world)
        case.path_parameters = {
            name: ids[value % len(ids)] if isinstance(value, int) and value % 2 == 0 else value
            for name, value in case.path_parameters.items()
        }
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, app=_app["wsgi"]
    )


def _token(user) -> str:
    """One token per user per test: the examples of a test share its database."""
    if not hasattr(user, "_schemathesis_token"):
        user._schemathesis_token = make_token(user, name="schemathesis")
    return user._schemathesis_token


BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
    # A failure is reported as found: shrinking it costs more time than it saves.
    phases=[Phase.generate],
)


@schema.parametrize()
@BOUNDED
def test_admin_token_gets_answers_its_schema_describes(case, world, admin):
    _call(case, _token(admin), world)


@schema.parametrize()
@BOUNDED
def test_manager_token_gets_answers_its_schema_describes(case, world, bob):
    _call(case, _token(bob), world)


@schema.parametrize()
@BOUNDED
def test_salesperson_token_gets_answers_its_schema_describes(case, world, alice):
    _call(case, _token(alice), world)
