"""Celery tasks: thin, ids and plain values in, one service call, idempotent."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.utils import timezone

from accounts.models import User
from pipeline import services


@shared_task(name="pipeline.flags_scan")
def flags_scan() -> dict:
    """Every few minutes: resume paused deals whose date has come and make the flags equal
    the definitions. Convergent, so a missed or doubled run does no harm."""
    result = services.flags_scan()
    return {"raised": result.raised, "resolved": result.resolved}


@shared_task(name="pipeline.digests_send")
def digests_send() -> int:
    """At 07:00 in the organisation's time zone: queue one digest per active user."""
    day = timezone.localdate().isoformat()
    user_ids = User.objects.filter(is_active=True).exclude(email="").values_list("pk", flat=True)
    for user_id in user_ids:
        digest_send.delay(user_id, day)
    return len(user_ids)


@shared_task(
    name="pipeline.digest_send",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=5,
)
def digest_send(user_id: int, day: str) -> bool:
    """One user's digest for one day, at most once (the service claims the day first)."""
    from datetime import date

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return services.digest_send(user=user, day=date.fromisoformat(day))


@shared_task(name="pipeline.forecast_snapshot")
def forecast_snapshot() -> int | None:
    """Monday 00:00 in the organisation's time zone: this week's forecast snapshot. A second
    run (two beats, a redelivery, a retry) writes nothing."""
    run = services.forecast_snapshot_take()
    return run.deal_count if run else None
