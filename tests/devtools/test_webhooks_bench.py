"""`manage.py bench_webhooks`: its three sides run real moves, the listening sides record one
event per move in one statement more, and it leaves no event behind."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from tests.conftest import is_postgres
from webhooks.models import OutboxEvent, WebhookEndpoint


@pytest.mark.django_db
def test_the_bench_times_the_three_sides_and_cleans_up(tmp_path):
    out = tmp_path / "webhooks.json"
    call_command("bench_webhooks", rounds=3, moves=2, json=str(out))
    result = json.loads(out.read_text())
    assert result["moves_each"] == 6
    statements = result["sql_statements"]
    # The event and its deliveries: one statement on PostgreSQL, two elsewhere.
    assert statements["recording"] == statements["without"] + (1 if is_postgres() else 2)
    assert result["outbox_write_ms"]["p50"] > 0
    assert not OutboxEvent.objects.exists()
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.is_active  # left off: the fixture is reused by the next run
