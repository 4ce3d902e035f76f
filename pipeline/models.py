from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.access import access_for


class Currency(models.TextChoices):
    EUR = "EUR", "EUR"
    DKK = "DKK", "DKK"
    SEK = "SEK", "SEK"
    NOK = "NOK", "NOK"
    USD = "USD", "USD"
    GBP = "GBP", "GBP"


class PipelineQuerySet(models.QuerySet):
    def visible_to(self, user) -> PipelineQuerySet:
        """Pipelines of the user's teams (all for an admin)."""
        access = access_for(user)
        if access.is_admin:
            return self
        return self.filter(team_id__in=access.team_ids)

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


class DealCriterionCheck(models.Model):
    """A deal's record that an exit criterion's customer event happened: who ticked it, when.

    The text is copied so the record survives the criterion being edited or removed.
    """

    deal = models.ForeignKey("Deal", on_delete=models.CASCADE, related_name="criterion_checks")
    criterion = models.ForeignKey(
        ExitCriterion, on_delete=models.SET_NULL, null=True, blank=True, related_name="checks"
    )
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=120)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deal", "checked_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "criterion"],
                condition=Q(criterion__isnull=False),
                name="dealcriterioncheck_once_per_deal",
            )
        ]

    def __str__(self) -> str:
        return self.text


class ProductArea(models.Model):
    """An admin-managed category of deals (a product line), used to slice loss analysis."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("product area")
        verbose_name_plural = _("product areas")

    def __str__(self) -> str:
        return self.name


class LostReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")

    def __str__(self) -> str:
        return self.name


class DealStatus(models.TextChoices):
    # A context keeps these states apart from the same English words as actions elsewhere
    # ("Open" a board, mark a deal "Won" or "Lost"), which translate differently.
    OPEN = "open", pgettext_lazy("deal status", "Open")
    WON = "won", pgettext_lazy("deal status", "Won")
    LOST = "lost", pgettext_lazy("deal status", "Lost")
    PAUSED = "paused", pgettext_lazy("deal status", "Paused")


@dataclass(frozen=True)
class DealVisibility:
    """What a user may see of deals, as pipelines (docs/product.md, access rules): everything (an
    admin), or every deal of `full_pipeline_ids` and, in `own_pipeline_ids`, only deals owned
    by `user_id` or unassigned (a salesperson in a team set to "own deals only")."""

    everything: bool
    full_pipeline_ids: list[int]
    own_pipeline_ids: list[int]
    user_id: int


def deal_visibility(user) -> DealVisibility:
    """The one visibility rule for deals; `DealQuerySet.visible_to` applies it to deals, the
    analytics to their derived tables."""
    access = access_for(user)
    return DealVisibility(
        everything=access.is_admin,
        full_pipeline_ids=access.pipeline_ids_of(access.full_team_ids),
        own_pipeline_ids=access.pipeline_ids_of(access.own_only_team_ids),
        user_id=access.user_id,
    )


class DealQuerySet(models.QuerySet):
    def visible_to(self, user) -> DealQuerySet:
        """The one visibility rule for deals (docs/product.md, access rules; `deal_visibility`).

        Admins see all deals; others the deals in their teams' pipelines, except that a
        salesperson in a team set to "own deals only" sees their own and unassigned deals there.
        """
        rule = deal_visibility(user)
        if rule.everything:
            return self
        # "id IS NULL" (never true) rather than an empty IN, which Django cannot compile when
        # the query is used as raw SQL.
        conditions = []
        if rule.full_pipeline_ids:
            conditions.append(Q(pipeline_id__in=rule.full_pipeline_ids))
        if rule.own_pipeline_ids:
            conditions.append(
                Q(pipeline_id__in=rule.own_pipeline_ids)
                & (Q(owner_id=rule.user_id) | Q(owner__isnull=True))
            )
        if not conditions:
            return self.filter(pk__isnull=True)
        return self.filter(functools.reduce(operator.or_, conditions))

    def editable_by(self, user) -> DealQuerySet:
        """Deals the user may edit, move and add activities to.

        Managers: all deals of the teams they manage; salespeople: their own deals and the
        unassigned deals of their teams; admins: all.
        """
        access = access_for(user)
        if access.is_admin:
            return self
        return self.filter(
            Q(pipeline__team_id__in=access.managed_team_ids)
            | Q(pipeline__team_id__in=access.team_ids)
            & (Q(owner_id=access.user_id) | Q(owner__isnull=True))
        )

    def open(self) -> DealQuerySet:
        return self.filter(status=DealStatus.OPEN)


class Deal(models.Model):
    title = models.CharField(_("title"), max_length=200)
    company = models.ForeignKey(
        "crm.Company",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("company"),
    )
    contact = models.ForeignKey(
        "crm.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("contact"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("owner"),
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    # Order inside the stage's column. Sparse (gaps of POSITION_GAP) so a move usually writes
    # one row; the services renumber a column when a gap runs out.
    position = models.BigIntegerField(default=0)
    value = models.DecimalField(
        _("value"), max_digits=14, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR
    )
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN
    )
    lost_reason = models.ForeignKey(
        LostReason,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("lost reason"),
    )
    lost_note = models.TextField(_("lost note"), max_length=2000, blank=True)
    lost_from_stage = models.ForeignKey(
        Stage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paused_until = models.DateField(_("paused until"), null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(_("why paused"), max_length=200, blank=True)
    # The next step (the earliest open activity), kept here by the services so the board
    # shows it without another query.
    next_step = models.ForeignKey(
        "Activity", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    next_step_subject = models.CharField(max_length=200, blank=True)
    next_step_due = models.DateField(null=True, blank=True)
    next_step_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Movement (entering the stage, completing an activity) and when the deal goes stale:
    # last movement + the stage's rot days, kept by the services so staleness is one indexed
    # comparison for the scan.
    last_movement_at = models.DateTimeField(default=timezone.now)
    rots_at = models.DateTimeField(null=True, blank=True)
    needs_attention = models.BooleanField(default=False)
    decision_maker_known = models.BooleanField(_("decision maker known"), default=False)
    timeline_confirmed = models.BooleanField(_("timeline confirmed"), default=False)
    need_confirmed = models.BooleanField(_("need confirmed"), default=False)
    product_area = models.ForeignKey(
        ProductArea,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("product area"),
    )
    stage_entered_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["stage__position", "position", "pk"]
        constraints = [
            # No two open cards share a place in a column, whatever happens concurrently.
            models.UniqueConstraint(
                fields=["stage", "position"],
                condition=Q(status="open"),
                name="deal_open_unique_stage_position",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="deal_value_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "won", "lost", "paused"]),
                name="deal_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["pipeline", "stage", "currency"],
                condition=Q(status="open"),
                # The forecast's grouping of open deals reads only this index.
                include=["value", "owner", "expected_close_date"],
                name="deal_open_pipeline_totals",
            ),
            models.Index(
                fields=["owner", "stage", "position"],
                condition=Q(status="open"),
                name="deal_open_owner_stage_pos",
            ),
            models.Index(fields=["status", "closed_at"], name="deal_status_closed_at"),
            # "What changed since last week's snapshot" reads only the deals of the pipelines
            # in view written since (the review lists them newest first).
            models.Index(fields=["pipeline", "updated_at"], name="deal_pipeline_updated_at"),
            models.Index(fields=["rots_at"], condition=Q(status="open"), name="deal_open_rots_at"),
            # The review's "no movement" section: one team's stale deals, stalest first.
            models.Index(
                fields=["pipeline", "rots_at"],
                condition=Q(status="open"),
                name="deal_open_pipeline_rots_at",
            ),
            models.Index(
                fields=["next_step_due"], condition=Q(status="open"), name="deal_open_next_due"
            ),
            models.Index(
                fields=["paused_until"], condition=Q(status="paused"), name="deal_paused_until"
            ),
        ]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("deal-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == DealStatus.OPEN

    @property
    def days_in_stage(self) -> int:
        return max((timezone.now() - self.stage_entered_at).days, 0)

    @property
    def days_without_movement(self) -> int:
        return max((timezone.now() - self.last_movement_at).days, 0)

    @property
    def is_stale(self) -> bool:
        return self.is_open and self.rots_at is not None and self.rots_at < timezone.now()

    def next_step_is_overdue(self, today) -> bool:
        return self.next_step_due is not None and self.next_step_due < today


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


class StageChange(models.Model):
    """Append-only history of every stage a deal entered (from_stage is empty at creation)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["deal", "at"], name="stagechange_deal_at"),
            models.Index(fields=["to_stage", "at"], name="stagechange_to_stage_at"),
        ]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} → {self.to_stage_id}"


class DealRevision(models.Model):
    """A deal's forecast fields as they stood just before a change at `at`: an edit of its
    value, currency, expected close date or owner, or closing, reopening, pausing or resuming
    it. Append-only, written by the deal services in the same transaction as the change.

    Lets a weekly snapshot taken late rebuild the pipeline as it stood at the week's start:
    a deal's fields at an instant are those of its first revision after that instant, or, with
    none, the deal's own (its stage comes from StageChange). Not recorded: owners handed over
    by deactivating a user (a bulk update) and deals written by bulk loads."""

    # The (deal, at) index serves the foreign key too.
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="revisions", db_index=False
    )
    at = models.DateTimeField(default=timezone.now)
    value = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    expected_close_date = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(max_length=10, choices=DealStatus.choices)

    class Meta:
        ordering = ["deal", "at", "pk"]
        indexes = [models.Index(fields=["deal", "at"], name="dealrevision_deal_at")]

    def __str__(self) -> str:
        return f"{self.deal_id} before {self.at}"

    @classmethod
    def of(cls, deal: Deal, *, at) -> DealRevision:
        """The deal's fields as they are now (call before changing them)."""
        return cls(
            deal_id=deal.pk,
            at=at,
            value=deal.value,
            currency=deal.currency,
            expected_close_date=deal.expected_close_date,
            owner_id=deal.owner_id,
            status=deal.status,
        )


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

    class Meta:
        ordering = ["due_date", "due_time", "pk"]
        indexes = [
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


class FlagKind(models.TextChoices):
    NO_NEXT_STEP = "no_next_step", _("No next step")
    OVERDUE_NEXT_STEP = "overdue_next_step", _("Next step overdue")
    STALE = "stale", _("No movement")


class Flag(models.Model):
    """A deal slipping from the method: raised and resolved by the scan and the services so
    that the open flags always equal the definitions (docs/product.md)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=20, choices=FlagKind.choices)
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "pk"]
        constraints = [
            # At most one open flag per deal and kind, however many scans run at once.
            models.UniqueConstraint(
                fields=["deal", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="flag_one_open_per_deal_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["no_next_step", "overdue_next_step", "stale"]),
                name="flag_kind_valid",
            ),
        ]
        verbose_name = _("flag")
        verbose_name_plural = _("flags")

    def __str__(self) -> str:
        return f"{self.deal_id} {self.kind}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class NotificationKind(models.TextChoices):
    FLAG_RAISED = "flag_raised", _("A deal of yours needs attention")
    DEAL_ASSIGNED = "deal_assigned", _("A deal was given to you")
    ACTIVITY_ASSIGNED = "activity_assigned", _("An activity was given to you")


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


# --- forecasts ----------------------------------------------------------------------------


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
