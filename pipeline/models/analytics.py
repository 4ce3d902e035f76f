"""The analytics pages' kept tables: stage visits, their monthly sums, the refresh state."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from pipeline.models.deals import Deal, StageChange
from pipeline.models.pipelines import Pipeline, Stage

# What the analytics pages read of a visit besides its pipeline and dates.
VISIT_COLUMNS = [
    "stage",
    "owner",
    "product_area_id",
    "tier",
    "is_first",
    "moved_on",
    "won",
    "lost_here",
    "here_now",
    "seconds",
    "entered_at",
]


class StageVisit(models.Model):
    """Derived, for the analytics pages: one row per stage entry (per StageChange), with where
    the stay ended and what the deal did after its first entry into the stage, and the deal's
    own columns the pages filter on, copied at the refresh. Maintained by
    `pipeline.services.analytics.analytics_refresh`; never edited. No database constraints:
    a full rebuild writes a million rows, and Django's own cascade removes a deleted deal's."""

    change = models.OneToOneField(
        StageChange,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
        db_constraint=False,
    )
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    entered_at = models.DateTimeField()
    # The deal's next entry into any stage; empty for its last (the stay runs on, or ended
    # when the deal closed).
    left_at = models.DateTimeField(null=True)
    # The deal's first entry into this stage (the funnel counts a deal once per stage).
    is_first = models.BooleanField()
    # First entries only: later the deal entered a stage further along the pipeline.
    moved_on = models.BooleanField(default=False)
    # The stay's length in whole seconds, to the next entry or the deal's closing; empty
    # while it runs (the deal is open or paused and this is its last entry).
    seconds = models.BigIntegerField(null=True)
    # The deal, as it was at the refresh.
    pipeline = models.ForeignKey(
        Pipeline,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    product_area_id = models.BigIntegerField(null=True)
    tier = models.CharField(max_length=1, default="")  # the company's ABC tier
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True)  # won or lost deals only
    won = models.BooleanField(default=False)
    lost_here = models.BooleanField(default=False)  # lost, from this stage
    here_now = models.BooleanField(default=False)  # open or paused, in this stage

    class Meta:
        indexes = [
            # Covering (on PostgreSQL): the pages read the visits at a period's edges and
            # the running stays from these indexes alone.
            models.Index(
                fields=["pipeline", "created_at"],
                name="stagevisit_pipeline_created",
                include=VISIT_COLUMNS,
            ),
            models.Index(
                fields=["pipeline", "closed_at"],
                name="stagevisit_pipeline_closed",
                condition=Q(closed_at__isnull=False),
                include=VISIT_COLUMNS,
            ),
            models.Index(
                fields=["pipeline", "created_at"],
                name="stagevisit_running",
                condition=Q(seconds__isnull=True),
                include=VISIT_COLUMNS,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id} in {self.stage_id} from {self.entered_at}"


class StageMonth(models.Model):
    """Derived, for the analytics pages: the stage visits summed per month, so a page reads a
    few thousand sums instead of a million visits. Each visit counts twice: under the month
    its deal was created (`basis` CREATED) and, for a closed deal, the month it closed (`basis`
    CLOSED); the pages add whole months of the period from here and read the days at its
    edges from the visits. Rows with `days` -1 count first entries into the stage (the
    funnel); the others count finished stays lasting `days` whole days (time in stage).
    Kept in step with StageVisit by `pipeline.services.analytics`, in the same transaction."""

    CREATED, CLOSED = 0, 1
    FIRST_ENTRIES = -1

    basis = models.PositiveSmallIntegerField()  # CREATED or CLOSED
    month = models.DateField()  # first day, in the organisation's time zone
    pipeline = models.ForeignKey(
        Pipeline,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    stage_id = models.BigIntegerField()
    owner_key = models.BigIntegerField()  # the owner's id, 0 for none
    product_area_key = models.BigIntegerField()  # 0 for none
    tier = models.CharField(max_length=1)
    days = models.IntegerField()
    n = models.IntegerField(default=0)  # first entries, or stays
    moved = models.IntegerField(default=0)  # of the first entries: moved on (or won)
    lost = models.IntegerField(default=0)  # lost from this stage
    won = models.IntegerField(default=0)
    here = models.IntegerField(default=0)  # open or paused in this stage
    seconds = models.BigIntegerField(default=0)  # the stays' summed length

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "basis",
                    "month",
                    "pipeline",
                    "stage_id",
                    "owner_key",
                    "product_area_key",
                    "tier",
                    "days",
                ],
                name="stagemonth_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} stage {self.stage_id}: {self.n}"


class AnalyticsRefresh(models.Model):
    """The one row (pk=1) saying how far StageVisit has been brought up to date."""

    refreshed_at = models.DateTimeField()
    # The last refresh that changed anything: the pages' figures are kept until it moves.
    changed_at = models.DateTimeField()
    # Deals updated after this moment, or with stage changes after `change_id`, are redone.
    updated_after = models.DateTimeField()
    change_id = models.BigIntegerField(default=0)
    # The stages' order and the time zone when the visits were computed ("moved on" and
    # the months depend on them).
    stage_order = models.TextField(default="")
    # Company tier changes after this one are redone (the visits copy the tier).
    tier_change_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"analytics as of {self.refreshed_at}"
