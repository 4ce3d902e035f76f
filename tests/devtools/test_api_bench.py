"""`manage.py bench_api`: refuses anything but PostgreSQL; its fixture gives the bench user
exactly the deals asked for, visible through the API in a fixed number of queries.

The HTTP part (gunicorn) is exercised by `make bench` itself: a gunicorn started from a test
would not see pytest-django's test database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.devtools.bench_api import build_fixture
from tests.api.conftest import Api, make_token
from tests.conftest import is_postgres


@pytest.mark.skipif(is_postgres(), reason="checks the refusal on a non-PostgreSQL database")
@pytest.mark.django_db
def test_refuses_to_run_on_sqlite(tmp_path):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench_api", deals=300, requests=1, json=str(tmp_path / "api.json"))
    assert not (tmp_path / "api.json").exists()


@pytest.mark.skipif(not is_postgres(), reason="the fixture uses generate_series and arrays")
@pytest.mark.django_db
def test_the_bench_user_sees_exactly_the_fixtures_deals(settings):
    settings.API_RATE_LIMIT = "100000/min"
    fixture = build_fixture(300, log=lambda _: None)
    assert build_fixture(300, log=lambda _: None).pipeline == fixture.pipeline  # reused
    api = Api(make_token(fixture.user))
    seen, cursor = 0, None
    while True:
        with CaptureQueriesContext(connection) as queries:
            page = api.get("/deals", {"limit": 100} | ({"cursor": cursor} if cursor else {}))
        seen += len(page.json()["results"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        assert len(queries) <= 4  # token, memberships, page (+ the first use's last_used_at)
    assert seen == 300
