"""Celery tasks of the crm app: thin, plain values in, one service call, idempotent."""

from __future__ import annotations

from celery import shared_task

from crm.services import imports as import_services
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


# An import of 50,000 rows takes about a minute; the limits leave room for the largest file
# the settings allow, under the broker's visibility timeout (an hour).
@shared_task(
    name="crm.import_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1860,
)
def import_run(batch_id: int) -> dict:
    """Run a queued import, all of it or nothing, in one transaction. Idempotent: a batch
    that is done, or running in another process (which holds its lock), is left alone; a
    batch whose worker died (its transaction rolled back) runs again."""
    batch = import_services.import_batch_run(batch_id=batch_id)
    return {"batch": batch.pk, "status": batch.status}


@shared_task(name="crm.imports_resume")
def imports_resume() -> dict:
    """Every two minutes: hand again to a worker the imports whose message was lost or
    whose worker died. Convergent."""
    return {"queued": import_services.imports_resume()}
