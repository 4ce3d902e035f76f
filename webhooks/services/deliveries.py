"""Sending deliveries: at least once, retried with exponential backoff until delivered or
`give_up_at`, and the endpoint switched off after repeated failure.

An attempt first *claims* its delivery with a conditional UPDATE that pushes `next_attempt_at`
past the attempt's longest possible duration (the lease): only one worker wins, a message
delivered twice or a sweep racing the after-commit task sends once, and a worker killed
mid-attempt leaves a delivery the sweep takes again when the lease runs out. The HTTP request
runs outside any transaction; its result is written afterwards under the delivery's and the
endpoint's row locks (in that order).

Receivers may still see an event twice (a worker dies after the receiver answered, a "send
again"): each carries its event id so they can drop duplicates.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role, User
from crm.broker import enqueue
from crm.languages import language_for_user, organisation_language
from crm.mail import absolute_url, sender
from crm.transactions import atomic_with_retry
from webhooks import sending
from webhooks.models import DeliveryStatus, OutboxEvent, WebhookDelivery, WebhookEndpoint
from webhooks.services.events import subscribers_changed
from webhooks.signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

# The most due deliveries one sweep hands out.
SWEEP_BATCH = 500


def lease_seconds() -> float:
    return (
        settings.WEBHOOKS_CONNECT_TIMEOUT_SECONDS + 2 * settings.WEBHOOKS_READ_TIMEOUT_SECONDS + 30
    )


def backoff(attempts: int) -> timedelta:
    """How long after the `attempts`-th failed attempt the next one is made: the base,
    doubling each time (30 s, 1 min, 2 min, ... about 34 h for the 12th)."""
    return timedelta(seconds=settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def body_for(event: OutboxEvent) -> bytes:
    return json.dumps(event.payload(), separators=(",", ":"), ensure_ascii=False).encode()


def _claim(delivery_id: int, now: datetime) -> bool:
    # One UPDATE of the delivery's own row, its conditions on that row: PostgreSQL checks
    # them again on the row as the winner left it, so the loser of a race updates nothing.
    # (A filter across the relation would become `id IN (SELECT ...)`, checked only once.)
    sending = WebhookEndpoint.objects.filter(is_active=True, disabled_at__isnull=True)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now,
        endpoint_id__in=sending.values("pk"),
    ).update(next_attempt_at=now + timedelta(seconds=lease_seconds()))
    return claimed == 1


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    delivered: bool
    answer: sending.Answer


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Attempt | None:
    """Send one delivery if it is due and its endpoint is on; None when it was not (not due,
    done, claimed by someone else, endpoint off). Idempotent: a delivered one is not sent
    again. Never raises for the receiver's or the network's failures."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    body = body_for(delivery.event)
    timestamp = int(timezone.now().timestamp())
    headers = {
        SIGNATURE_HEADER: signature_header(
            secret=delivery.endpoint.secret, timestamp=timestamp, body=body
        ),
        "CRM-Event-Id": str(delivery.event_id),
        "CRM-Event-Type": delivery.event.type,
        "CRM-Delivery-Attempt": str(delivery.attempts + 1),
    }
    # What the log says about a failure is written in the organisation's language: the log
    # is the admins' shared page, and a worker has no request to take a language from.
    with translation.override(organisation_language()):
        answer = sending.post(url=delivery.endpoint.url, body=body, headers=headers)
    _record(delivery_id, answer, now=now)
    return Attempt(delivery_id=delivery_id, delivered=answer.ok, answer=answer)


@atomic_with_retry
def _record(delivery_id: int, answer: sending.Answer, *, now: datetime) -> None:
    delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=delivery_id)
    endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=delivery.endpoint_id)
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = answer.status
    delivery.duration_ms = answer.duration_ms
    delivery.response_excerpt = answer.excerpt[: WebhookDelivery.response_excerpt.field.max_length]
    delivery.error = answer.error
    if answer.ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if endpoint.failure_count or endpoint.failing_since:
            endpoint.failure_count = 0
            endpoint.failing_since = None
            endpoint.save(update_fields=["failure_count", "failing_since"])
    else:
        if now >= delivery.give_up_at:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = min(now + backoff(delivery.attempts), delivery.give_up_at)
        _endpoint_failed(endpoint, now)
    delivery.save()


def _endpoint_failed(endpoint: WebhookEndpoint, now: datetime) -> None:
    endpoint.failure_count = F("failure_count") + 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.save(update_fields=["failure_count", "failing_since"])
    endpoint.refresh_from_db(fields=["failure_count"])
    if endpoint.disabled_at is not None:
        return
    too_many = endpoint.failure_count >= settings.WEBHOOKS_DISABLE_AFTER_FAILURES
    too_long = now - endpoint.failing_since >= timedelta(hours=settings.WEBHOOKS_RETRY_HOURS)
    if not (too_many or too_long):
        return
    endpoint.disabled_at = now
    endpoint.disabled_reason = (
        f"{endpoint.failure_count} failed attempts in a row"
        if too_many
        else f"failing since {endpoint.failing_since.isoformat()}"
    )
    endpoint.save(update_fields=["disabled_at", "disabled_reason"])
    subscribers_changed()
    logger.warning("webhook endpoint %s switched off: %s", endpoint.pk, endpoint.disabled_reason)
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: enqueue("webhooks.endpoint_disabled_notify", endpoint_id))


def endpoint_disabled_notify(*, endpoint_id: int) -> int:
    """Mail every active admin that the endpoint was switched off (the settings pages show it
    too). Returns how many were mailed."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, disabled_at__isnull=False).first()
    if endpoint is None:
        return 0
    admins = (
        User.objects.filter(is_active=True, memberships__role=Role.ADMIN)
        .exclude(email="")
        .distinct()
    )
    link = absolute_url(reverse("settings-webhook", args=[endpoint.pk]))
    mailed = set()
    for admin in admins.order_by("pk"):
        if admin.email in mailed:
            continue
        mailed.add(admin.email)
        # Each in the admin's own language (docs/product.md, "Who sees which language").
        with translation.override(language_for_user(admin)):
            subject = _("A webhook endpoint was switched off")
            message = _(
                "Deliveries to %(url)s kept failing, so the CRM stopped sending to it. "
                "Events are kept: once the receiver works again, switch the endpoint back on "
                "and the waiting deliveries are sent.\n\n%(link)s"
            ) % {"url": endpoint.url, "link": link}
        send_mail(subject, message, sender(), [admin.email], fail_silently=True)
    return len(mailed)


def event_deliver(*, event_id: str) -> list[Attempt]:
    """Send every due delivery of one event (the task queued after the change committed)."""
    ids = WebhookDelivery.objects.filter(
        event_id=event_id, status=DeliveryStatus.PENDING
    ).values_list("pk", flat=True)
    attempts = [delivery_attempt(delivery_id=pk) for pk in sorted(ids)]
    return [attempt for attempt in attempts if attempt is not None]


def deliveries_due(
    *, now: datetime | None = None, endpoint_id: int | None = None, limit: int = SWEEP_BATCH
) -> list[int]:
    """Ids of pending deliveries due now whose endpoint is on (that endpoint's only, when
    given), the longest waiting first."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now,
        endpoint__is_active=True,
        endpoint__disabled_at__isnull=True,
    )
    if endpoint_id is not None:
        due = due.filter(endpoint_id=endpoint_id)
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


def outbox_prune(*, now: datetime | None = None) -> int:
    """Forget what receivers no longer need: deliveries done (delivered or given up) more
    than WEBHOOKS_KEEP_DAYS ago, events left without deliveries, and deliveries whose
    endpoint is gone (recorded by a process that had not heard of the deletion yet). Pending
    deliveries are kept whatever their age. Returns how many rows went. Convergent."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOKS_KEEP_DAYS)
    deleted, _ = (
        WebhookDelivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=DeliveryStatus.PENDING)
        .delete()
    )
    orphans, _ = WebhookDelivery.objects.exclude(
        endpoint_id__in=WebhookEndpoint.objects.values("pk")
    ).delete()
    events, _ = OutboxEvent.objects.filter(created_at__lt=cutoff, deliveries__isnull=True).delete()
    return deleted + orphans + events
