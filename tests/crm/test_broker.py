"""crm.broker.enqueue: a broker outage costs one failed attempt per window, not one per
request; pages keep answering; after the window one call tries again (issue 12)."""

from __future__ import annotations

import logging
import socket
import time
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse

from crm import broker
from crm.tasks import tiers_recompute
from tests.test_celery import CLOSED_PORT_BROKER, broker_down

CLOSED_PORT = int(CLOSED_PORT_BROKER.rsplit(":", 1)[1].split("/")[0])


@pytest.fixture
def attempts(monkeypatch):
    """Every TCP connection attempt to the (closed) broker port, counted at the socket."""
    calls = []
    real = socket.socket.connect

    def connect(sock, address):
        if isinstance(address, tuple) and address[1] == CLOSED_PORT:
            calls.append(address)
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return calls


@pytest.fixture
def clock(monkeypatch):
    """crm.broker's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(broker.time, "monotonic", lambda: now[0])
    return now


def test_a_working_broker_queues():
    """The suite's broker (the filesystem transport, or Redis in CI) takes the message."""
    with mock.patch.object(
        tiers_recompute, "apply_async", wraps=tiers_recompute.apply_async
    ) as sent:
        assert broker.enqueue(tiers_recompute) is True
    # One publish, on enqueue's own connection, never retried.
    assert sent.call_count == 1
    assert sent.call_args.kwargs["retry"] is False
    assert sent.call_args.kwargs["connection"] is not None
    assert not broker.broker_outage_remembered()


def test_arguments_reach_the_task():
    with mock.patch.object(tiers_recompute, "apply_async") as sent:
        assert broker.enqueue(tiers_recompute, 7, "2026-11-20", full=True) is True
    assert sent.call_args.kwargs["args"] == (7, "2026-11-20")
    assert sent.call_args.kwargs["kwargs"] == {"full": True}


def test_an_outage_is_tried_once_then_skipped_until_the_window_passes(attempts, clock, caplog):
    with broker_down(), override_settings(BROKER_OUTAGE_SECONDS=10):
        started = time.perf_counter()
        with caplog.at_level(logging.WARNING, logger="crm.broker"):
            assert broker.enqueue(tiers_recompute) is False
        # No reconnect loop: kombu's default retry alone waited 2 s here.
        assert time.perf_counter() - started < 1.0
        assert len(attempts) == 1
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        assert "unreachable" in caplog.records[0].getMessage()
        caplog.clear()

        # Within the window: answered at once, no connection attempt, no new warning.
        clock[0] += 9.5
        with caplog.at_level(logging.WARNING, logger="crm.broker"):
            for _ in range(5):
                assert broker.enqueue(tiers_recompute) is False
        assert len(attempts) == 1
        assert broker.broker_outage_remembered()
        assert caplog.records == []

        # After the window: one attempt goes through (still down: a new window, no warning).
        clock[0] += 1
        with caplog.at_level(logging.WARNING, logger="crm.broker"):
            assert broker.enqueue(tiers_recompute) is False
            assert broker.enqueue(tiers_recompute) is False
        assert len(attempts) == 2
        assert caplog.records == []

    # The broker is back: the first call after the window queues and the outage is forgotten.
    clock[0] += 11
    with caplog.at_level(logging.INFO, logger="crm.broker"):
        assert broker.enqueue(tiers_recompute) is True
    assert "reachable again" in caplog.records[-1].getMessage()
    assert not broker.broker_outage_remembered()
    assert broker.enqueue(tiers_recompute) is True


def test_callers_waiting_while_the_one_attempt_runs_skip(clock):
    """After the window only one caller tries; the others skip instead of piling up."""
    broker._circuit.failed(clock[0])
    clock[0] += 11
    assert broker._circuit.may_try(clock[0]) is True  # the one attempt
    assert broker._circuit.may_try(clock[0]) is False  # others, while it runs


@pytest.mark.django_db
def test_requests_keep_working_and_pay_for_the_outage_once(client, admin, attempts, clock):
    """The settings page's "Recompute now": 302 with the message that the queue is
    unreachable, quickly; a second click within the window does not try the broker."""
    client.force_login(admin)
    url = reverse("settings-tiers-recompute")
    with broker_down():
        started = time.perf_counter()
        first = client.post(url, follow=True)
        second = client.post(url, follow=True)
        elapsed = time.perf_counter() - started
    assert first.status_code == second.status_code == 200
    assert "cannot be reached" in second.content.decode()
    assert len(attempts) == 1
    assert elapsed < 2.0


@pytest.mark.django_db
def test_the_analytics_page_with_a_long_history_keeps_answering(
    client, bob, stages_a, monkeypatch, attempts, clock
):
    from pipeline.services import analytics

    monkeypatch.setattr(analytics, "INLINE_REBUILD_LIMIT", -1)  # every history is "long"
    client.force_login(bob)
    with broker_down():
        for _ in range(3):
            response = client.get(reverse("analytics-funnel"))
            assert response.status_code == 200
            assert "being prepared" in response.content.decode()
    assert len(attempts) == 1
