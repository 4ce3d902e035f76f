"""Pipelines and their stages (order, probability, rot days, exit criteria), and each
stage's kept column totals."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.access import access_for


class Currency(models.TextChoices):
    EUR = "EUR", "EUR"
    DKK = "DKK", "DKK"
    SEK = "SEK", "SEK"
    NOK = "NOK", "NOK"
    USD = "USD", "USD"
    GBP = "GBP", "GBP"


def visible_team_ids(user) -> list[int] | None:
    """The teams whose pipelines the user sees (`PipelineQuerySet.visible_to`): None for all (an
    admin)."""
    access = access_for(user)
    return None if access.is_admin else sorted(access.team_ids)


class PipelineQuerySet(models.QuerySet):
    def visible_to(self, user) -> PipelineQuerySet:
        """Pipelines of the user's teams (all for an admin)."""
        team_ids = visible_team_ids(user)
        return self if team_ids is None else self.of_teams(team_ids)

    def of_teams(self, team_ids) -> PipelineQuerySet:
        return self.filter(team_id__in=team_ids)

    def active(self) -> PipelineQuerySet:
        return self.filter(is_archived=False)


class Pipeline(models.Model):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="pipelines")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    is_archived = models.BooleanField(_("archived"), default=False)
    # Open deals past this stage (position greater) should have all qualification facts;
    # the managers' clean-up list shows those that do not. Empty: no clean-up list.
    qualified_after_stage = models.ForeignKey(
        "Stage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("qualification required after stage"),
    )

    objects = PipelineQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name", "pk"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("board", args=[self.pk])


class StageQuerySet(models.QuerySet):
    def visible_to(self, user) -> StageQuerySet:
        return self.filter(pipeline__in=Pipeline.objects.visible_to(user).values("pk"))

    def active(self) -> StageQuerySet:
        """Stages on the board: not removed by an admin (removed stages that have history
        are archived, so stage changes, losses and snapshots keep pointing at them)."""
        return self.filter(is_archived=False)


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        default=10,
    )
    rot_days = models.PositiveIntegerField(
        _("rot days"),
        default=14,
        help_text=_("A deal without movement for longer than this is stale."),
    )
    # Removed from the pipeline by an admin after its deals moved elsewhere; kept so history
    # (stage changes, lost-from stages, forecast snapshots) keeps its meaning.
    is_archived = models.BooleanField(_("archived"), default=False)
    # Whether the stage has active follow-up routines (pipeline.models.routines), kept by the
    # routine services under the stage's lock: a move, which holds that lock and has the row
    # already, skips looking for routines of a stage that has none.
    has_routines = models.BooleanField(default=False, editable=False)

    objects = StageQuerySet.as_manager()

    class Meta:
        ordering = ["pipeline", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100),
                name="stage_probability_0_100",
            )
        ]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self) -> str:
        return self.name


class ExitCriterion(models.Model):
    """A customer event that must (required) or should (advisory) have happened before a
    deal moves forward out of its stage."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="exit_criteria")
    text = models.CharField(_("customer event"), max_length=120)
    is_required = models.BooleanField(_("required"), default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["stage", "position", "pk"]
        verbose_name = _("exit criterion")
        verbose_name_plural = _("exit criteria")

    def __str__(self) -> str:
        return self.text


class StageTotal(models.Model):
    """Count and value of the open deals of one stage in one currency, kept by the services in
    the same transaction as every change (under the stage's column lock), so the unfiltered
    board reads its column totals from a handful of rows instead of aggregating every deal.
    `stage_totals_rebuild` recomputes them from the deals (after bulk loads, and nightly)."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="totals")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    count = models.IntegerField(default=0)
    value = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    attention = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "currency"], name="stagetotal_stage_currency")
        ]

    def __str__(self) -> str:
        return f"{self.stage_id} {self.currency}: {self.count} / {self.value}"
