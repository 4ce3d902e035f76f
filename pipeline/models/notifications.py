"""Notifications and the daily digest's claim per user and day."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from pipeline.models.deals import Deal
from pipeline.models.flags import Flag, FlagKind


class NotificationKind(models.TextChoices):
    # One notification per raised flag: what the scan wrote before it summarised (old rows
    # keep showing).
    FLAG_RAISED = "flag_raised", _("A deal of yours needs attention")
    # One summary per person and flag scan: how many of their deals it flagged, by kind.
    FLAGS_RAISED = "flags_raised", _("Deals of yours need attention")
    DEAL_ASSIGNED = "deal_assigned", _("A deal was given to you")
    ACTIVITY_ASSIGNED = "activity_assigned", _("An activity was given to you")
    LEAD_RECEIVED = "lead_received", _("A new lead from a website form")


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    # Every kind but the scan's summary is about one deal.
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    flag = models.ForeignKey(
        Flag, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # A summary's counts: {"deals": 12, "no_next_step": 5, "overdue_next_step": 7, ...}; the
    # deals themselves are the owner's flags raised at `created_at` (the scan's time).
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One notification per raised flag, however many scans see it.
            models.UniqueConstraint(fields=["user", "flag"], name="notification_once_per_flag"),
            # One summary per person and scan, however many workers run that scan.
            models.UniqueConstraint(
                fields=["user", "created_at"],
                condition=Q(kind="flags_raised"),
                name="notification_one_summary_per_scan",
            ),
            models.CheckConstraint(
                condition=Q(kind="flags_raised") | Q(deal__isnull=False),
                name="notification_deal_unless_summary",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.deal_id or self.details.get('deals')})"

    @property
    def is_summary(self) -> bool:
        return self.kind == NotificationKind.FLAGS_RAISED

    @property
    def summary_deals(self) -> int:
        """How many deals a flag scan's summary is about."""
        return int(self.details.get("deals", 0))

    @property
    def summary_parts(self) -> list[str]:
        """A summary's counts per kind of flag as words ("5 without a next step"), in the
        kinds' order, the empty ones left out."""
        words = {
            FlagKind.NO_NEXT_STEP: lambda n: ngettext(
                "%(count)d without a next step", "%(count)d without a next step", n
            ),
            FlagKind.OVERDUE_NEXT_STEP: lambda n: ngettext(
                "%(count)d overdue", "%(count)d overdue", n
            ),
            FlagKind.STALE: lambda n: ngettext(
                "%(count)d with no movement", "%(count)d with no movement", n
            ),
        }
        return [
            words[kind](n) % {"count": n}
            for kind in FlagKind.values
            if (n := int(self.details.get(kind, 0)))
        ]


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
