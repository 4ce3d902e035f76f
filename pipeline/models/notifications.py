"""Notifications and the daily digest's claim per user and day."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pipeline.models.deals import Deal
from pipeline.models.flags import Flag


class NotificationKind(models.TextChoices):
    FLAG_RAISED = "flag_raised", _("A deal of yours needs attention")
    DEAL_ASSIGNED = "deal_assigned", _("A deal was given to you")
    ACTIVITY_ASSIGNED = "activity_assigned", _("An activity was given to you")
    LEAD_RECEIVED = "lead_received", _("A new lead from a website form")


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="notifications")
    flag = models.ForeignKey(
        Flag, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One notification per raised flag, however many scans see it.
            models.UniqueConstraint(fields=["user", "flag"], name="notification_once_per_flag")
        ]
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.deal_id})"


class DigestSent(models.Model):
    """The daily digest sent to a user on a date: the unique row makes sending idempotent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "date"], name="digest_once_per_user_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.date}"
