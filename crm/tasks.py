"""Celery tasks of the crm app: thin, plain values in, one service call, idempotent."""

from __future__ import annotations

from celery import shared_task

from crm.services import tiers as tier_services


@shared_task(name="crm.tiers_recompute", acks_late=True, reject_on_worker_lost=True)
def tiers_recompute() -> dict:
    """Nightly, and right after the thresholds change: every company's expected value and
    tier. Convergent: a missed run is caught up by the next, a doubled one records nothing."""
    result = tier_services.tiers_recompute()
    return {
        "companies": result.companies,
        "updated": result.updated,
        "tier_changes": result.tier_changes,
    }
