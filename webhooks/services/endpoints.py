"""The settings pages' writes on webhook endpoints: admins only (`settings_access`), each in
one transaction that moves the shared `webhooks` version, so every process records events
for the endpoints as they are now."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from accounts.selectors import settings_access
from crm.broker import enqueue
from crm.transactions import atomic_with_retry
from webhooks.addresses import url_check_on_save
from webhooks.models import (
    PING,
    DeliveryStatus,
    EventType,
    OutboxEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services.events import subscribers_changed
from webhooks.signing import secret_new


def _events_clean(events: list[str]) -> list[str]:
    known = set(EventType.values)
    unknown = [event for event in events if event not in known]
    if unknown:
        raise ValueError(f"unknown events: {unknown}")
    return [event for event in EventType.values if event in set(events)]


@atomic_with_retry
def endpoint_create(
    *,
    acting_user: User,
    url: str,
    events: list[str],
    team: Team | None = None,
    description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its signing secret (shown to the admin once).
    Admins only (PermissionDenied). The URL is checked again here (AddressRefused): the form
    checks it for the page, this guards every other caller. Not idempotent."""
    settings_access(user=acting_user)
    url_check_on_save(url)
    secret = secret_new()
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        description=description.strip(),
        team=team,
        events=_events_clean(events),
        secret=secret,
        created_by=acting_user,
    )
    subscribers_changed()
    return endpoint, secret


@atomic_with_retry
def endpoint_update(
    *,
    acting_user: User,
    endpoint: WebhookEndpoint,
    url: str,
    events: list[str],
    team: Team | None,
    description: str,
) -> bool:
    """Change where an endpoint points and what it hears; returns whether anything changed.
    Deliveries already recorded keep going to it. Admins only. Idempotent."""
    settings_access(user=acting_user)
    locked = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk)
    values = {
        "url": url,
        "events": _events_clean(events),
        "team_id": team.pk if team else None,
        "description": description.strip(),
    }
    changed = [field for field, value in values.items() if getattr(locked, field) != value]
    if not changed:
        return False
    if "url" in changed:
        url_check_on_save(url)
    for field in changed:
        setattr(locked, field, values[field])
        setattr(endpoint, field, values[field])
    locked.save(update_fields=[*changed, "updated_at"])
    subscribers_changed()
    return True


@atomic_with_retry
def endpoint_delete(*, acting_user: User, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its delivery log. Admins only."""
    settings_access(user=acting_user)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    subscribers_changed()


@atomic_with_retry
def endpoint_secret_rotate(*, acting_user: User, endpoint: WebhookEndpoint) -> str:
    """Give the endpoint a new signing secret (returned, shown once); every attempt from now
    on is signed with it. Admins only."""
    settings_access(user=acting_user)
    secret = secret_new()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret, updated_at=timezone.now())
    endpoint.secret = secret
    return secret


@atomic_with_retry
def endpoint_set_active(*, acting_user: User, endpoint: WebhookEndpoint, active: bool) -> bool:
    """Switch an endpoint on or off; returns whether anything changed. Switching on clears an
    automatic switch-off and its failure count, and gives the deliveries that waited a fresh
    retry window, due at once. Admins only. Idempotent."""
    settings_access(user=acting_user)
    locked = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk)
    sending = locked.is_active and locked.disabled_at is None
    if sending == active:
        return False
    now = timezone.now()
    locked.is_active = active
    if active:
        locked.disabled_at = None
        locked.disabled_reason = ""
        locked.failure_count = 0
        locked.failing_since = None
        WebhookDelivery.objects.filter(endpoint=locked, status=DeliveryStatus.PENDING).update(
            next_attempt_at=now,
            give_up_at=now + timedelta(hours=settings.WEBHOOKS_RETRY_HOURS),
        )
    locked.save()
    for field in ("is_active", "disabled_at", "disabled_reason", "failure_count"):
        setattr(endpoint, field, getattr(locked, field))
    subscribers_changed()
    if active:
        endpoint_id = locked.pk
        transaction.on_commit(lambda: enqueue("webhooks.endpoint_flush", endpoint_id))
    return True


@atomic_with_retry
def delivery_resend(*, acting_user: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (the log's "Send again"), delivered or not: due at once, with a
    fresh retry window; the receiver gets the same event id. Admins only."""
    settings_access(user=acting_user)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + timedelta(hours=settings.WEBHOOKS_RETRY_HOURS),
    )
    delivery.refresh_from_db()
    delivery_id = delivery.pk
    transaction.on_commit(lambda: enqueue("webhooks.delivery_attempt", delivery_id))
    return delivery


@atomic_with_retry
def endpoint_send_test(*, acting_user: User, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `ping` event to this endpoint only (its "Send test event" button), signed like
    every other. Admins only."""
    settings_access(user=acting_user)
    now = timezone.now()
    event = OutboxEvent.objects.create(
        id=uuid.uuid4(),
        type=PING,
        data={"endpoint_id": endpoint.pk, "message": "Test event from the CRM"},
        created_at=now,
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=event,
        next_attempt_at=now,
        give_up_at=now + timedelta(hours=settings.WEBHOOKS_RETRY_HOURS),
        created_at=now,
    )
    event_id = str(event.pk)
    transaction.on_commit(lambda: enqueue("webhooks.event_deliver", event_id))
    return delivery
