"""The shared cache and its versions (crm/shared.py): what one process writes, every other
process sees at its next request; a cache that is down only makes reads go to the database."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from crm import shared
from crm.models import Organisation
from crm.organisation import organisation_changed, organisation_get
from tests.factories import DealFactory

CLOSED_PORT = "redis://127.0.0.1:1/0"
DOWN = {
    "default": {
        "BACKEND": "crm.shared.RedisCache",
        "LOCATION": CLOSED_PORT,
        "KEY_PREFIX": "down",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def cache_down(settings):
    """A Redis nobody listens on, remembered as down by no process yet."""
    shared._down_until.clear()
    with override_settings(CACHES=DOWN):
        yield
    shared._down_until.clear()


def test_the_cache_is_never_one_processs_memory(settings):
    assert "locmem" not in settings.CACHES["default"]["BACKEND"].lower()


def test_a_version_stays_until_a_change_and_then_moves_on():
    first = shared.version("labels")
    assert shared.version("labels") == first
    shared.changed("labels")
    assert shared.version("labels") != first


def test_a_change_inside_a_transaction_moves_the_version_only_at_commit(
    db, django_capture_on_commit_callbacks
):
    first = shared.version("organisation")
    with django_capture_on_commit_callbacks(execute=True):
        organisation_changed()
        # Another process reading now would read the row before the commit: keep its token.
        assert shared.version("organisation") == first
    assert shared.version("organisation") != first


def test_a_memo_costs_no_query_until_its_version_moves(db, django_assert_num_queries):
    organisation_get()
    with django_assert_num_queries(0):
        assert organisation_get().pk == 1
    Organisation.objects.filter(pk=1).update(name="Written by another process")
    # What the other process does after its commit: a new token in the shared cache.
    shared._bump("organisation")
    with django_assert_num_queries(1):
        assert organisation_get().name == "Written by another process"


def test_a_memo_is_read_again_when_the_version_was_lost(db):
    """Redis restarted (or evicted the token): a new token, so every process reads again."""
    organisation_get()
    Organisation.objects.filter(pk=1).update(name="Renamed before the restart")
    cache.delete("version:organisation")
    assert organisation_get().name == "Renamed before the restart"


def test_a_request_reads_the_versions_once(client, alice, pipeline_a, stages_a):
    client.force_login(alice)
    DealFactory(pipeline=pipeline_a, stage=stages_a[0], owner=alice)
    reads = []
    real = cache.get_many

    def counting(keys, *args, **kwargs):
        if any(key.startswith("version:") for key in keys):
            reads.append(keys)
        return real(keys, *args, **kwargs)

    url = reverse("board", args=[pipeline_a.pk])
    client.get(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache, "get_many", counting)
        assert client.get(url).status_code == 200
    assert len(reads) == 1
    assert sorted(reads[0]) == sorted(f"version:{name}" for name in shared.VERSIONS)


def test_a_cache_that_is_down_answers_like_an_empty_one(cache_down, caplog):
    caplog.set_level(logging.WARNING, logger="crm.shared")
    assert cache.get("anything", "fallback") == "fallback"
    cache.set("anything", 1)
    assert cache.add("anything", 1) is False
    assert cache.get_many(["a", "b"]) == {}
    assert cache.delete("anything") is False
    with pytest.raises(ValueError):
        cache.incr("anything")
    # One warning for the outage, not one per call.
    warnings = [r for r in caplog.records if "cache unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_a_cache_that_is_down_is_skipped_until_the_outage_window_passes(cache_down, settings):
    cache.get("first")
    assert cache._skipping()
    shared._down_until.clear()  # the window has passed
    assert not cache._skipping()


def test_pages_and_sign_in_work_while_the_cache_is_down(cache_down, client, alice, pipeline_a):
    """Sessions live in the database: nobody is signed out, nothing breaks, only every read
    goes to the database."""
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("board", args=[pipeline_a.pk])).status_code == 200
    assert client.get(reverse("forecast")).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("board", args=[pipeline_a.pk])).status_code == 200
    assert any("django_session" in q["sql"] for q in queries)  # read from the database
    assert client.get(reverse("board", args=[pipeline_a.pk])).status_code == 200


def test_readyz_says_the_cache_is_unavailable_while_it_is_down(cache_down, client, db):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "unavailable"


def test_a_task_reads_the_versions_once(db):
    """Celery's task_prerun starts a scope like a request: a scan asks the cache once, not
    once per deal."""
    from celery.signals import task_postrun, task_prerun

    reads = []
    real = cache.get_many

    def counting(keys, *args, **kwargs):
        reads.append(keys)
        return real(keys, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache, "get_many", counting)
        task_prerun.send(sender=None, task_id="t1", task=None)
        try:
            for _ in range(3):
                organisation_get()
                shared.version("money")
        finally:
            task_postrun.send(sender=None, task_id="t1", task=None)
        assert len(reads) == 1
        organisation_get()
        organisation_get()
    assert len(reads) == 3  # outside a task or request: at every use
