"""Which pages read from the read replica (crm/replica.py). The replica here is a second
connection to the test database itself (a test mirror, tests/conftest.py), so the tests see
which connection ran each query while the data is the same on both."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.replica import PIN_COOKIE
from pipeline.forecasting import period_start
from pipeline.services.analytics import analytics_refresh
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

# What a report page reads: deals, stages, snapshots, stage visits and the like. Not the
# exchange rates: a process keeps today's in memory, always read from the primary.
REPORT_TABLES = re.compile(r'FROM "?pipeline_(?!exchangerate)')


@pytest.fixture
def replica(settings):
    settings.READ_REPLICA = "replica"


@pytest.fixture
def deals(alice, bob, stages_a):
    today = timezone.localdate()
    return [
        DealFactory(stage=stages_a[i % 3], owner=alice, value=1000 + i, expected_close_date=today)
        for i in range(4)
    ]


@contextmanager
def queries_by_connection():
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        yield primary, replica


def report_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if REPORT_TABLES.search(q["sql"])]


def month() -> str:
    return period_start(timezone.localdate(), "month").isoformat()


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("forecast", ""),
        ("forecast-export", ""),
        ("forecast-export-xlsx", ""),
        ("forecast-accuracy", ""),
        ("forecast-changes", ""),
        ("forecast-calibration", ""),
        ("forecast-deals", "cell={month}&row={alice}"),
        ("analytics-deals", "stage={stage}"),
        ("analytics-funnel", ""),
        ("analytics-funnel", "export=csv"),
        ("analytics-funnel", "export=xlsx"),
        ("analytics-time-in-stage", ""),
        ("analytics-reps", ""),
        ("analytics-losses", ""),
        ("analytics-velocity", ""),
    ],
)
def test_report_pages_read_from_the_replica(
    client, replica, bob, alice, deals, stages_a, name, query
):
    client.force_login(bob)
    # Analytics are fresh: the page reads, it does not refresh them (which writes, on the
    # primary, in a transaction: tested below).
    analytics_refresh()
    query = query.format(month=month(), alice=alice.pk, stage=stages_a[0].pk)
    url = f"{reverse(name)}?{query}"
    with queries_by_connection() as (primary, replica_queries):
        response = client.get(url)
    assert response.status_code == 200
    assert report_reads(replica_queries), "the report read nothing from the replica"
    # The primary ran only what comes before the view (the user, the access check of the
    # setup guard; the session is cached) and what a process keeps in memory (the
    # organisation row, today's rates): no report.
    assert report_reads(primary) == []


def test_an_analytics_refresh_from_a_report_page_runs_on_the_primary(client, replica, bob, deals):
    client.force_login(bob)
    with queries_by_connection() as (primary, replica_queries):
        assert client.get(reverse("analytics-funnel")).status_code == 200
    writes = [q["sql"] for q in primary.captured_queries if "INSERT" in q["sql"].upper()]
    assert any("pipeline_stagevisit" in sql for sql in writes)
    assert not any("INSERT" in q["sql"].upper() for q in replica_queries.captured_queries)
    assert report_reads(replica_queries)


def test_pages_that_show_what_was_just_written_read_the_primary(
    client, replica, alice, deals, stages_a
):
    client.force_login(alice)
    deal = deals[0]
    pages = [
        reverse("board", args=[stages_a[0].pipeline_id]),
        deal.get_absolute_url(),
        reverse("review"),
        reverse("home"),
    ]
    with queries_by_connection() as (primary, replica_queries):
        for url in pages:
            assert client.get(url).status_code in (200, 302), url
        moved = client.post(reverse("deal-move", args=[deal.pk]), {"stage": stages_a[2].pk})
        assert moved.status_code == 302
    assert replica_queries.captured_queries == []
    assert report_reads(primary)


def test_after_a_write_the_writers_report_pages_read_the_primary_for_a_while(
    client, replica, settings, alice, deals, stages_a
):
    """A target set on the forecast page is on the forecast page the writer lands on, however
    far behind the replica is."""
    client.force_login(alice)
    response = client.post(reverse("deal-move", args=[deals[0].pk]), {"stage": stages_a[2].pk})
    cookie = response.cookies[PIN_COOKIE]
    assert cookie["max-age"] == settings.DATABASE_REPLICA_PIN_SECONDS
    assert cookie["httponly"]
    with queries_by_connection() as (primary, replica_queries):
        assert client.get(reverse("forecast")).status_code == 200
    assert replica_queries.captured_queries == []
    assert report_reads(primary)


def test_without_a_replica_everything_reads_the_primary_and_no_cookie_is_set(
    client, alice, deals, stages_a
):
    client.force_login(alice)
    with queries_by_connection() as (primary, replica_queries):
        response = client.post(reverse("deal-move", args=[deals[0].pk]), {"stage": stages_a[2].pk})
        assert client.get(reverse("forecast")).status_code == 200
    assert PIN_COOKIE not in response.cookies
    assert replica_queries.captured_queries == []


def test_a_refused_write_sets_no_cookie(client, replica, carol, deals, stages_a):
    client.force_login(carol)
    response = client.post(reverse("deal-move", args=[deals[0].pk]), {"stage": stages_a[2].pk})
    assert response.status_code == 404
    assert PIN_COOKIE not in response.cookies


def test_migrations_and_writes_go_to_the_primary_only():
    from crm.replica import ReplicaRouter
    from pipeline.models import Deal

    router = ReplicaRouter()
    assert router.db_for_write(Deal) == "default"
    assert router.allow_migrate("default", "pipeline")
    assert not router.allow_migrate("replica", "pipeline")
