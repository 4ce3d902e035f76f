"""Forecasting: exchange rates, sales targets, weekly snapshots and the review's marks."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pipeline.models.deals import Deal, DealStatus
from pipeline.models.pipelines import Currency, Pipeline, Stage


class PeriodKind(models.TextChoices):
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class ExchangeRate(models.Model):
    """Units of the reporting currency for one unit of `currency`, valid from `valid_from`
    until a newer rate for the same currency. Deals keep their own currency; totals,
    forecasts and snapshots convert with the rate in force."""

    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    rate = models.DecimalField(
        _("rate"), max_digits=18, decimal_places=8, validators=[MinValueValidator(0)]
    )
    valid_from = models.DateField(_("valid from"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "valid_from"], name="exchangerate_currency_day"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchangerate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} from {self.valid_from}"


class SalesTarget(models.Model):
    """What a rep should close in a period (reporting currency), set by a manager or admin."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_targets"
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    amount = models.DecimalField(
        _("target"), max_digits=16, decimal_places=2, validators=[MinValueValidator(0)]
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period_kind", "period_start"], name="salestarget_one_per_period"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="salestarget_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period_kind} {self.period_start}: {self.amount}"


class ForecastSnapshotRun(models.Model):
    """One row per weekly snapshot: claiming the week is what makes a second run, a second
    beat or a retry write nothing new. A week's snapshot is the pipeline as it stood at the
    week's start, whenever the job ran."""

    week = models.DateField(unique=True)  # the first day of the week it belongs to
    # The moment the snapshot describes: 00:00 on `week` in the organisation's time zone.
    # "Changed since the snapshot" and the snapshot's exchange rates are counted from here.
    taken_at = models.DateTimeField(default=timezone.now)
    deal_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["-week"]

    def __str__(self) -> str:
        return f"Snapshot {self.week}"


class ForecastSnapshotLine(models.Model):
    """Each deal open at the week's start as it stood then (values in the reporting currency
    at that day's rates). Never changed afterwards. It explains
    what changed since ("new, moved, value changed, close date slipped, won, lost")."""

    # One index, unique (run, deal), serves every read of lines; more would only slow the
    # weekly write of a line per open deal.
    # No database constraint either: a deferred foreign-key check per line at commit cost
    # more than the lines themselves. The snapshot service writes them with their run.
    run = models.ForeignKey(
        ForecastSnapshotRun,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    deal = models.ForeignKey(
        Deal,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="snapshot_lines",
        db_index=False,
    )
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    status = models.CharField(max_length=10, choices=DealStatus.choices)
    expected_close_date = models.DateField(null=True)
    value = models.DecimalField(max_digits=18, decimal_places=2)
    weighted = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "deal"], name="snapshotline_once_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.deal_id}"


class ForecastSnapshot(models.Model):
    """The weekly forecast per pipeline, owner, stage and period, as it stood (docs/product.md).
    Written once per week from that week's lines; never changed afterwards."""

    run = models.ForeignKey(ForecastSnapshotRun, on_delete=models.CASCADE, related_name="totals")
    week = models.DateField()
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    count = models.IntegerField()
    value = models.DecimalField(max_digits=18, decimal_places=2)
    weighted = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        indexes = [
            models.Index(
                fields=["period_kind", "period_start", "week"], name="snapshot_period_week"
            ),
            models.Index(fields=["week", "owner"], name="snapshot_week_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.week} {self.period_kind} {self.period_start}"


class DealReview(models.Model):
    """A deal looked at in a week's review meeting."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="reviews")
    week = models.DateField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deal", "week"], name="dealreview_once_per_week")
        ]

    def __str__(self) -> str:
        return f"{self.deal_id} reviewed {self.week}"
