"""Queueing background work without depending on the broker being there.

Every enqueue in the product goes through `enqueue()`. It publishes on a connection from the
process's pool, connecting at most once, with the connect timeout of the settings and no
retry (left to the transport options, kombu retried after two seconds: a request waited
2 s per enqueue while the broker was down), and when that fails it logs one warning and
remembers the outage for BROKER_OUTAGE_SECONDS: meanwhile `enqueue()` answers False at once
without trying, and after that one call is let through to find out whether the broker is
back. Callers treat False as "the periodic run will catch up".

Services name the task they queue (`enqueue("crm.tiers_recompute")`) rather than import it:
a tasks module imports its services, so a service importing it back would close a circle
(docs/decisions.md). Each app imports its tasks module when it is ready (`*/apps.py`), so every
task is registered under its name in the web process as in the worker.

The memory of the outage is per process on purpose: it is only a hint to skip attempts that
would fail, never data, so a process that has not heard of the outage just tries once.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar

from django.conf import settings

logger = logging.getLogger(__name__)

# How long to wait for a free connection of the process's pool (it holds 10 by default).
POOL_WAIT_SECONDS = 1.0


class _Circuit:
    """Open (skipping) until `down_until` (time.monotonic()); 0.0 while the broker is fine."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.outage_started = 0.0  # monotonic; 0.0 when there is no outage

    def may_try(self, now: float) -> bool:
        """Whether to attempt a publish now. Once the window has passed, the first caller is
        let through and the window is extended at once, so concurrent callers keep skipping
        while that one attempt runs."""
        with self.lock:
            if now < self.down_until:
                return False
            if self.outage_started:
                self.down_until = now + outage_seconds()
            return True

    def failed(self, now: float) -> bool:
        """Remember the outage; returns whether it is new (worth a warning)."""
        with self.lock:
            new = not self.outage_started
            if new:
                self.outage_started = now
            self.down_until = now + outage_seconds()
            return new

    def succeeded(self, now: float) -> float | None:
        """Forget the outage; returns how long it lasted, or None when there was none."""
        with self.lock:
            started, self.outage_started, self.down_until = self.outage_started, 0.0, 0.0
        return now - started if started else None


_circuit = _Circuit()


def outage_seconds() -> float:
    return float(getattr(settings, "BROKER_OUTAGE_SECONDS", 10))


def broker_outage_remembered() -> bool:
    """Whether enqueue() is skipping attempts right now (for health checks and tests)."""
    return time.monotonic() < _circuit.down_until


def broker_outage_forget() -> None:
    """Try the broker on the next enqueue (tests; after the broker is known to be back)."""
    _circuit.succeeded(time.monotonic())


def registered_task(name: str):
    """The Celery task registered under `name` (a KeyError for a name nobody registered)."""
    from crm.celery import app

    return app.tasks[name]


def enqueue(task, *args, **kwargs) -> bool:
    """Queue `task` (a task, or the name of one) with these arguments (plain values: ids,
    dates as ISO strings). Returns whether it was queued; never raises for a broker failure
    and never retries. Call it after commit (`transaction.on_commit(lambda: enqueue(...))`)
    or outside any transaction."""
    if isinstance(task, str):
        task = registered_task(task)
    name = getattr(task, "name", repr(task))
    if not _circuit.may_try(time.monotonic()):
        logger.debug("broker outage remembered: %s not queued", name)
        return False
    from crm.celery import app

    options = {}
    if args:
        options["args"] = args
    if kwargs:
        options["kwargs"] = kwargs
    try:
        with app.pool.acquire(block=True, timeout=POOL_WAIT_SECONDS) as connection:
            try:
                # Connect (if this pooled connection is not) once, without kombu's retry loop;
                # then publish on it, again without retry.
                connection.ensure_connection(max_retries=0)
                task.apply_async(connection=connection, retry=False, **options)
            except Exception:
                connection.collect()  # back to the pool unconnected, reconnected next time
                raise
    except Exception as error:  # noqa: BLE001 - any broker failure; the periodic run catches up
        if _circuit.failed(time.monotonic()):
            logger.warning(
                "broker unreachable (%s: %s): %s not queued; skipping the broker for %g s, "
                "the periodic runs catch up",
                type(error).__name__,
                error,
                name,
                outage_seconds(),
            )
        return False
    lasted = _circuit.succeeded(time.monotonic())
    if lasted is not None:
        logger.info("broker reachable again after %.0f s", lasted)
    return True


# --- after the answer -------------------------------------------------------------------------

# The publishes a request asked to make once its answer is sent (None outside a request).
_after_response: ContextVar[list | None] = ContextVar("enqueue_after_response", default=None)


def enqueue_after_response(task, *args) -> None:
    """`enqueue(task, *args)` once the current request's answer has been sent (the WSGI
    server closes the response after writing it), or at once outside a request (a task, a
    command). For work that a periodic run catches up anyway, so the person waiting never
    pays the broker's round trip: webhook events, whose outbox rows the sweep sends if this
    publish never happens (a process killed in between, a broker outage)."""
    pending = _after_response.get()
    if pending is None:
        enqueue(task, *args)
    else:
        pending.append((task, args))


class EnqueueAfterResponseMiddleware:
    """Collects `enqueue_after_response` calls made while the view runs (after-commit hooks
    included) and publishes them when the response is closed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        pending: list = []
        token = _after_response.set(pending)
        try:
            response = self.get_response(request)
        finally:
            _after_response.reset(token)
        if pending:
            response._resource_closers.append(lambda: _publish_all(pending))
        return response


def _publish_all(pending: list) -> None:
    for task, args in pending:
        enqueue(task, *args)
