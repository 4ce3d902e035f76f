"""Activities: a deal's next step is its earliest open one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from pipeline.models.deals import Deal


class ActivityKind(models.TextChoices):
    # A context: without one "Email" took Django's own translation of the address field
    # ("E-Mail-Adresse", "E-postadress"), and "Call" could be taken for the verb.
    CALL = "call", pgettext_lazy("activity kind", "Call")
    MEETING = "meeting", pgettext_lazy("activity kind", "Meeting")
    EMAIL = "email", pgettext_lazy("activity kind", "Email")
    TASK = "task", pgettext_lazy("activity kind", "Task")


class Activity(models.Model):
    """Something to do on a deal. The deal's next step is its earliest activity not yet done."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(
        _("kind"), max_length=10, choices=ActivityKind.choices, default=ActivityKind.CALL
    )
    subject = models.CharField(_("what"), max_length=200)
    due_date = models.DateField(_("when"))
    due_time = models.TimeField(_("time"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("who"),
    )
    note = models.TextField(_("note"), max_length=2000, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Planned by a stage's follow-up routine when the deal entered the stage: the entry (its
    # stage change) and the routine. One activity per entry and routine, held by the
    # database, so a move never plans its routine twice.
    stage_change = models.ForeignKey(
        "StageChange",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    routine = models.ForeignKey(
        "FollowUpRoutine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        db_index=False,
    )

    class Meta:
        ordering = ["due_date", "due_time", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["stage_change", "routine"],
                condition=Q(stage_change__isnull=False, routine__isnull=False),
                name="activity_once_per_entry_routine",
            )
        ]
        indexes = [
            # Removing a routine or a stage change clears these links; few activities have
            # them, so partial indexes keep every other activity out.
            models.Index(
                fields=["routine"], condition=Q(routine__isnull=False), name="activity_routine"
            ),
            models.Index(
                fields=["stage_change"],
                condition=Q(stage_change__isnull=False),
                name="activity_stage_change",
            ),
            models.Index(
                fields=["deal", "due_date", "due_time"],
                condition=Q(done_at__isnull=True),
                name="activity_open_deal_due",
            ),
            models.Index(
                fields=["assignee", "due_date"],
                condition=Q(done_at__isnull=True),
                name="activity_open_assignee_due",
            ),
        ]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")

    def __str__(self) -> str:
        return self.subject

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_from_routine(self) -> bool:
        """Planned by a stage's follow-up routine (when the deal entered the stage)."""
        return self.stage_change_id is not None
