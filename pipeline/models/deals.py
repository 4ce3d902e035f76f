"""Deals, their visibility rule, their stage history, revisions and exit-criterion checks."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.access import access_for
from pipeline.models.lists import LostReason, ProductArea
from pipeline.models.pipelines import Currency, ExitCriterion, Pipeline, Stage


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
        return self.visible_under(deal_visibility(user))

    def visible_under(self, rule: DealVisibility) -> DealQuerySet:
        """`visible_to` by its rule (the board compiles its cards' query once per shape of the
        rule: pipeline.selectors.board)."""
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

    def with_attention(self) -> DealQuerySet:
        """Each deal with `needs_attention` read in the same query: whether it has an open
        flag (docs/decisions.md: derived, not stored, so the flag scan writes no deal row)."""
        return self.annotate(needs_attention=has_open_flag())

    def needing_attention(self) -> DealQuerySet:
        """The deals with an open flag (the board's "needs attention" filter, the digest)."""
        return self.filter(has_open_flag())


def has_open_flag(deal_ref: str = "pk") -> models.Exists:
    """Whether the deal (`OuterRef(deal_ref)`) has an open flag: one probe of the partial
    unique index of open flags per deal."""
    flag = Deal._meta.get_field("flags").related_model  # pipeline.models.flags imports us
    return models.Exists(
        flag.objects.filter(deal_id=models.OuterRef(deal_ref), resolved_at__isnull=True)
    )


# The names under which a deal is read with since when each kind of flag has been open (None:
# not open), by kind (`FlagKind`'s values): the board's cards and the move
# (`card_flag_annotations`).
FLAG_SINCE = {
    "no_next_step": "no_next_step_since",
    "overdue_next_step": "overdue_since",
    "stale": "stale_since",
}


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
    # Where the deal came from, as people read it ("Website form: Contact us"); empty for a
    # deal added in the CRM. Stored text, not translated; the lead balance groups by it. The
    # database default lets set-based INSERTs that name their columns (demo, benchmarks,
    # imports) leave it out.
    source = models.CharField(_("source"), max_length=120, blank=True, default="", db_default="")

    # Where an imported deal came from: the system ("hubspot", "pipedrive", "file", or
    # another install of this CRM) and its record id there, so that importing the same export
    # again matches instead of duplicating (unique per pipeline), and the import that created
    # it, so undoing that import removes exactly its deals.
    source_system = models.CharField(
        _("source system"), max_length=40, blank=True, default="", db_default=""
    )
    source_id = models.CharField(
        _("record id in the source system"), max_length=100, blank=True, default="", db_default=""
    )
    import_batch = models.ForeignKey(
        "crm.ImportBatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
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
            # One deal per record of the system it was imported from, in each pipeline.
            models.UniqueConstraint(
                fields=["pipeline", "source_system", "source_id"],
                condition=~Q(source_id=""),
                name="deal_unique_source_record",
            ),
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
            # The lead balance: a team's new deals of the last weeks.
            models.Index(fields=["pipeline", "created_at"], name="deal_pipeline_created_at"),
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
            # Lists in id order (the API's deal list, its cursors): a pipeline's deals as a
            # range of this index, not a walk of the primary key past every other team's.
            models.Index(fields=["pipeline", "id"], name="deal_pipeline_id_order"),
            # The review's "closing soon / in weeks 3 and 4" sections: a team's first rows
            # in close-date order, read from the index instead of sorting the team's deals.
            # The pipeline leads, so other teams' deals (a million in another pipeline) are
            # never walked past.
            models.Index(
                fields=["pipeline", "expected_close_date"],
                condition=Q(status="open"),
                name="deal_open_pipeline_close_date",
            ),
            # (The review's "no next step" section has an index of its own on PostgreSQL,
            # pipeline then due date NULLS FIRST, which SQLite's CREATE INDEX does not take:
            # migration 0023.)
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
    def needs_attention(self) -> bool:
        """Whether the deal has an open flag. Read with the deal by `with_attention()` (or
        from the open flags' times `card_flag_annotations` loads), else asked once; set by the
        services that just changed the deal's flags."""
        if "_needs_attention" not in self.__dict__:
            if all(name in self.__dict__ for name in FLAG_SINCE.values()):
                value = any(self.__dict__[name] is not None for name in FLAG_SINCE.values())
            else:
                value = self.pk is not None and self.flags.filter(resolved_at__isnull=True).exists()
            self.__dict__["_needs_attention"] = value
        return self.__dict__["_needs_attention"]

    @needs_attention.setter
    def needs_attention(self, value: bool) -> None:
        self.__dict__["_needs_attention"] = bool(value)

    def forget_attention(self) -> None:
        """Drop the read `needs_attention` (after the deal's flags changed)."""
        self.__dict__.pop("_needs_attention", None)

    def refresh_from_db(self, *args, **kwargs) -> None:
        self.forget_attention()
        super().refresh_from_db(*args, **kwargs)

    @property
    def days_in_stage(self) -> int:
        return max((timezone.now() - self.stage_entered_at).days, 0)

    # The flag definitions (docs/product.md, "Definitions") on one deal already loaded: the
    # twins of `pipeline.services.flags.flag_conditions`, which says the same in SQL for the
    # scan; tests/pipeline/views/test_board.py holds the two to the same answer.

    def is_stale_at(self, now: datetime) -> bool:
        """Open, and its last movement is older than its stage's rot days (`rots_at`)."""
        return self.is_open and self.rots_at is not None and self.rots_at < now

    @property
    def is_stale(self) -> bool:
        return self.is_stale_at(timezone.now())

    def next_step_is_overdue(self, today: date) -> bool:
        """Open, and its next step was due before `today` (the organisation's date)."""
        return self.is_open and self.next_step_due is not None and self.next_step_due < today


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
