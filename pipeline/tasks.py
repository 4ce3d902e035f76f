"""Celery tasks: thin, ids and plain values in, one service call, idempotent."""

from __future__ import annotations

import functools
import smtplib
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from crm.broker import enqueue
from crm.organisation import organisation_zone
from pipeline import services
from pipeline.models import DigestSent
from pipeline.services import analytics


def in_organisation_time(task):
    """Run the task with the organisation's time zone active, as a request has it (the
    middleware), so "today" in a task is the day the users see."""

    @functools.wraps(task)
    def run(*args, **kwargs):
        with timezone.override(organisation_zone()):
            return task(*args, **kwargs)

    return run


@shared_task(name="pipeline.flags_scan")
@in_organisation_time
def flags_scan() -> dict:
    """Every few minutes: resume paused deals whose date has come and make the flags equal
    the definitions. Convergent, so a missed or doubled run does no harm."""
    result = services.flags_scan()
    return {"raised": result.raised, "resolved": result.resolved}


@shared_task(name="pipeline.digests_send")
@in_organisation_time
def digests_send(now: str | None = None) -> int:
    """Polled every quarter of an hour: from DIGEST_HOUR in the organisation's time zone
    (whatever zone it is set to now), queue a digest for each active user who has none for
    today yet; returns how many were queued. Convergent: a missed poll is caught up by the
    next; each digest claims its user and day, so a user queued twice still gets one."""
    local = timezone.localtime(datetime.fromisoformat(now) if now else timezone.now())
    if local.hour < settings.DIGEST_HOUR:
        return 0
    day = local.date()
    user_ids = list(
        User.objects.filter(is_active=True)
        .exclude(email="")
        .exclude(pk__in=DigestSent.objects.filter(date=day).values("user_id"))
        .values_list("pk", flat=True)
    )
    # Stops at the first one the broker refuses (crm.broker then skips the rest at once);
    # the next poll queues whoever is still without today's digest.
    return sum(enqueue(digest_send, user_id, day.isoformat()) for user_id in user_ids)


@shared_task(
    name="pipeline.digest_send",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=5,
)
@in_organisation_time
def digest_send(user_id: int, day: str) -> bool:
    """One user's digest for one day, at most once (the service claims the day first)."""
    from datetime import date

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return services.digest_send(user=user, day=date.fromisoformat(day))


@shared_task(name="pipeline.forecast_snapshot")
@in_organisation_time
def forecast_snapshot() -> int | None:
    """Polled every quarter of an hour: the first poll of a new week (the organisation's time
    zone and week start, as set now) takes the week's forecast snapshot, the pipeline as it
    stood at the week's start even when the first poll comes days late; every other poll,
    a second beat, a redelivery or a retry finds the week taken and writes nothing."""
    run = services.forecast_snapshot_take()
    return run.deal_count if run else None


@shared_task(name="pipeline.analytics_refresh")
def analytics_refresh() -> str | None:
    """Every few minutes: bring the analytics pages' stage visits up to date for the deals
    changed since the last run. Idempotent; a run that finds another under way skips."""
    done = analytics.analytics_refresh(wait=False)
    return done.isoformat() if done else None
