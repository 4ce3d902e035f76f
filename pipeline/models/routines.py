"""Follow-up routines: per stage, the activities planned for a deal's owner when the deal
enters the stage ("Send a follow-up 3 working days after the proposal")."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pipeline.models.activities import ActivityKind
from pipeline.models.pipelines import Stage

# How far ahead a routine may plan: about three months of working days.
ROUTINE_MAX_DAYS = 60


class FollowUpRoutine(models.Model):
    """One activity a stage plans when a deal enters it: what, which kind, and how many
    working days (Monday to Friday, in the organisation's time zone) after the entry it is
    due. Inactive routines are kept but plan nothing."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="routines")
    subject = models.CharField(_("what to do"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=10, choices=ActivityKind.choices, default=ActivityKind.TASK
    )
    due_in_days = models.PositiveSmallIntegerField(
        _("due after (working days)"),
        default=1,
        validators=[MinValueValidator(0), MaxValueValidator(ROUTINE_MAX_DAYS)],
        help_text=_("0 is the day the deal enters the stage."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["stage", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_in_days__gte=0, due_in_days__lte=ROUTINE_MAX_DAYS),
                name="followuproutine_due_0_60",
            )
        ]
        verbose_name = _("follow-up routine")
        verbose_name_plural = _("follow-up routines")

    def __str__(self) -> str:
        return self.subject
