"""Celery tasks of webhooks: thin, plain values in, one service call, idempotent (an attempt
claims its delivery first, so a message run twice sends once)."""

from __future__ import annotations

from celery import shared_task

from crm.broker import enqueue
from webhooks.services import deliveries


@shared_task(name="webhooks.event_deliver", acks_late=True, reject_on_worker_lost=True)
def event_deliver(event_id: str) -> dict:
    """Queued after the change committed: send the event to each endpoint that listens."""
    attempts = deliveries.event_deliver(event_id=event_id)
    return {"attempted": len(attempts), "delivered": sum(a.delivered for a in attempts)}


@shared_task(name="webhooks.delivery_attempt", acks_late=True, reject_on_worker_lost=True)
def delivery_attempt(delivery_id: int) -> dict:
    """One delivery, if it is due (the sweep's and "Send again"'s unit of work)."""
    attempt = deliveries.delivery_attempt(delivery_id=delivery_id)
    return {"attempted": attempt is not None, "delivered": bool(attempt and attempt.delivered)}


def _hand_out(ids: list[int]) -> dict:
    """Queue one attempt per delivery; while the broker refuses, send them here instead, so
    a backlog always moves."""
    queued = sent = 0
    for delivery_id in ids:
        if enqueue(delivery_attempt, delivery_id):
            queued += 1
        else:
            deliveries.delivery_attempt(delivery_id=delivery_id)
            sent += 1
    return {"queued": queued, "sent_here": sent}


@shared_task(name="webhooks.deliveries_sweep")
def deliveries_sweep() -> dict:
    """Every WEBHOOKS_SWEEP_SECONDS: hand out the deliveries that are due (retries, and events
    whose after-commit message never reached a worker). Convergent."""
    return _hand_out(deliveries.deliveries_due())


@shared_task(name="webhooks.endpoint_flush")
def endpoint_flush(endpoint_id: int) -> dict:
    """After an endpoint is switched back on: hand out what waited for it."""
    return _hand_out(deliveries.deliveries_due(endpoint_id=endpoint_id))


@shared_task(name="webhooks.endpoint_disabled_notify", acks_late=True)
def endpoint_disabled_notify(endpoint_id: int) -> dict:
    return {"mailed": deliveries.endpoint_disabled_notify(endpoint_id=endpoint_id)}


@shared_task(name="webhooks.outbox_prune")
def outbox_prune() -> dict:
    """Hourly: forget old done deliveries and events, and orphans. Convergent."""
    return {"deleted": deliveries.outbox_prune()}
