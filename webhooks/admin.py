"""The Django admin, for superusers: the outbox and the deliveries, read only (to look into
a receiver's trouble). Endpoints are changed on Settings → Webhooks only, through the
services that move the shared `webhooks` version; the admin would show their secrets."""

from django.contrib import admin

from webhooks.models import OutboxEvent, WebhookDelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "team_id", "created_at"]
    list_filter = ["type"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "response_code", "next_attempt_at"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
