"""Endpoints, the outbox and deliveries.

An `OutboxEvent` is written in the transaction of the change it describes, together with one
`WebhookDelivery` per endpoint subscribed to it at that moment; both commit or roll back with
the change. Deliveries are sent after commit and retried until delivered or `give_up_at`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The payload's format: a receiver reads `version` and the change log in the README.
PAYLOAD_VERSION = 1
# How much of a receiver's answer is kept (bytes of the body, decoded).
EXCERPT_BYTES = 1024


class EventType(models.TextChoices):
    DEAL_CREATED = "deal.created", _("Deal created")
    DEAL_UPDATED = "deal.updated", _("Deal updated")
    DEAL_MOVED = "deal.moved", _("Deal moved to another stage")
    DEAL_WON = "deal.won", _("Deal won")
    DEAL_LOST = "deal.lost", _("Deal lost")
    DEAL_PAUSED = "deal.paused", _("Deal paused")
    DEAL_REOPENED = "deal.reopened", _("Deal reopened or resumed")
    COMPANY_CREATED = "company.created", _("Company created")
    COMPANY_UPDATED = "company.updated", _("Company updated")
    CONTACT_CREATED = "contact.created", _("Contact created")
    CONTACT_UPDATED = "contact.updated", _("Contact updated")
    ACTIVITY_COMPLETED = "activity.completed", _("Activity completed")
    IMPORT_COMPLETED = "import.completed", _("Import completed")


# Not subscribable: sent to one endpoint by its "Send test event" button.
PING = "ping"


class WebhookEndpoint(models.Model):
    """Where events go. `team` None: every team's events; else that team's only. The secret
    signs every delivery; it is shown to the admin once, when made or rotated."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
    )
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    # Consecutive failed attempts, and since when it has failed without a success.
    failure_count = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["url", "pk"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    @property
    def is_sending(self) -> bool:
        return self.is_active and self.disabled_at is None


class OutboxEvent(models.Model):
    """One change, as the receivers see it. Written in the change's transaction; never
    changed afterwards."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40)
    version = models.PositiveSmallIntegerField(default=PAYLOAD_VERSION)
    team_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    def payload(self) -> dict:
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "created": int(self.created_at.timestamp()),
            "data": self.data,
        }


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event to one endpoint: sent until a 2xx answer (delivered) or `give_up_at`
    (failed). `next_attempt_at` is when it is due; an attempt in flight pushes it forward
    (its lease), so two workers never send it at once and a dead worker's is taken again."""

    # No index of their own: `delivery_once_per_event` (event first) and `delivery_log`
    # (endpoint first) serve both lookups, and each index is one more write per event.
    # No database constraint on the endpoint: a process may still hold a just-deleted
    # endpoint in its memo for the rest of a request, and a move must never fail at commit
    # for that; such a delivery is never sent (every read joins the endpoint) and goes with
    # the sweep's clean-up. Deleting an endpoint deletes its deliveries (Django's cascade).
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    event = models.ForeignKey(
        OutboxEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=EXCERPT_BYTES, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_once_per_event")
        ]
        indexes = [
            # The sweep: pending deliveries by when they are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"
