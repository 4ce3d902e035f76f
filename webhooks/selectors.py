"""Reads of the webhook settings pages. Endpoints are organisation-wide settings: the door is
`settings_access` (admins; anyone else 403), and an id that does not exist, or a delivery of
another endpoint, is 404."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from accounts.models import Team, User
from accounts.selectors import settings_access
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# How many deliveries the log shows, newest first.
LOG_SIZE = 50


def endpoints_for_settings(*, user: User) -> QuerySet[WebhookEndpoint]:
    """Every endpoint with its team and its deliveries' counts (one query)."""
    settings_access(user=user)
    return (
        WebhookEndpoint.objects.select_related("team")
        .annotate(
            pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
            failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
            last_delivery_at=Max("deliveries__last_attempt_at"),
        )
        .order_by("url", "pk")
    )


def endpoint_get_for_settings(*, user: User, pk: int) -> WebhookEndpoint:
    """One endpoint for its page: 403 for anyone but an admin, 404 for an unknown id."""
    settings_access(user=user)
    endpoint = WebhookEndpoint.objects.select_related("team").filter(pk=pk).first()
    if endpoint is None:
        raise Http404
    return endpoint


def deliveries_for_endpoint(*, endpoint: WebhookEndpoint, status: str = "") -> list:
    """The endpoint's latest deliveries with their events (one query), optionally of one
    status."""
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
    if status:
        deliveries = deliveries.filter(status=status)
    return list(deliveries.order_by("-created_at", "-pk")[:LOG_SIZE])


def delivery_get_for_settings(*, user: User, endpoint: WebhookEndpoint, pk: int):
    """One delivery of this endpoint (404 for another endpoint's or an unknown id)."""
    settings_access(user=user)
    delivery = WebhookDelivery.objects.filter(pk=pk, endpoint=endpoint).first()
    if delivery is None:
        raise Http404
    return delivery


def teams_for_webhooks() -> QuerySet[Team]:
    return Team.objects.order_by("name")
