"""The import's transaction against PostgreSQL: progress is seen by other processes while it
runs, and a second run of the same batch (a redelivered message) leaves at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from crm.models import ImportBatch, ImportStatus
from crm.services import import_rows
from crm.services import imports as import_services
from pipeline.models import Deal
from tests.conftest import requires_postgres
from tests.crm.import_support import (
    HUBSPOT_STAGES,
    create_batch,
    map_batch,
    stage_mapping,
)

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def read_elsewhere(sql: str, params=()):
    """A query through a connection of its own, as another web process would run it."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    finally:
        other.close()


@pytest.fixture
def mapped_batch(bob, sven, lena, pipeline_a, stages_a):
    batch = create_batch(bob, "hubspot_deals.csv", pipeline=pipeline_a)
    return map_batch(bob, batch, stages=stage_mapping(stages_a, HUBSPOT_STAGES))


def test_progress_is_seen_by_other_processes_while_the_import_runs(bob, mapped_batch, monkeypatch):
    monkeypatch.setattr(import_rows, "CHUNK_ROWS", 2)
    seen = []
    original = import_services.ProgressWriter.__call__

    def write_and_look(self, done):
        original(self, done)
        seen.append(
            (
                read_elsewhere(
                    "SELECT status, progress_done FROM crm_importbatch WHERE id = %s",
                    [mapped_batch.pk],
                ),
                read_elsewhere("SELECT count(*) FROM pipeline_deal")[0],
            )
        )

    monkeypatch.setattr(import_services.ProgressWriter, "__call__", write_and_look)
    batch = import_services.import_batch_start(acting_user=bob, batch=mapped_batch)
    assert batch.status == ImportStatus.DONE
    assert seen == [
        (("running", 2), 0),
        (("running", 4), 0),
        (("running", 6), 0),
        (("running", 7), 0),
    ]
    assert (batch.progress_done, batch.progress_percent) == (7, 100)


def test_a_second_run_of_a_running_batch_leaves_at_once(bob, mapped_batch, monkeypatch):
    inside = threading.Event()
    release = threading.Event()
    original = import_rows.ImportRun._chunk

    def slow_chunk(self, rows):
        inside.set()
        assert release.wait(10)
        return original(self, rows)

    monkeypatch.setattr(import_rows.ImportRun, "_chunk", slow_chunk)
    import_services._queue(batch=mapped_batch, acting_user=bob)

    def first_run():
        try:
            import_services.import_batch_run(batch_id=mapped_batch.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    assert inside.wait(10)
    second = import_services.import_batch_run(batch_id=mapped_batch.pk)  # a redelivery
    assert second.status == ImportStatus.RUNNING
    release.set()
    thread.join(20)
    batch = ImportBatch.objects.get(pk=mapped_batch.pk)
    assert (batch.status, batch.created_count) == (ImportStatus.DONE, 7)
    assert Deal.objects.count() == 7
