"""Weekly forecast snapshots, targets, exchange rates, stage probabilities and weekly review
marks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import User
from crm.models import Organisation
from crm.organisation import organisation_get, organisation_zone
from crm.transactions import atomic_with_retry
from pipeline.forecasting import KINDS, monday, period_start, period_trunc
from pipeline.models import (
    Deal,
    DealReview,
    DealRevision,
    DealStatus,
    ExchangeRate,
    ForecastSnapshot,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    SalesTarget,
    Stage,
    StageChange,
)
from pipeline.money import rates_changed, rates_on
from pipeline.services.deals import DealRuleError
from pipeline.services.flags import _insert_from_select

MONEY = DecimalField(max_digits=18, decimal_places=2)


def week_start_instant(week: date) -> datetime:
    """The moment the organisation's week `week` (its first day) starts: 00:00 that day in
    the organisation's time zone."""
    return datetime.combine(week, time.min, tzinfo=organisation_zone())


def forecast_snapshot_take(*, now: datetime | None = None) -> ForecastSnapshotRun | None:
    """Take this week's forecast snapshot: the pipeline as it stood at the start of the week
    (00:00 on its first day, in the organisation's time zone and week start, whatever zone
    the caller runs in), however late in the week the job runs. Every deal open at that
    moment, in the stage it was in then (values in the reporting currency at the week
    start's rates), then the totals per pipeline, owner, stage and week / month / quarter of
    the expected close date. The run's `taken_at` is that moment.

    A deal not written since the week started is read as it is; the others are rebuilt from
    their history (`deals_as_of`), so a run on Friday writes what a run at Monday 00:00
    would have. Set-based SQL: memory stays flat whatever the number of deals. Idempotent:
    the week is claimed by a unique row in the same transaction, so a second run, a second
    beat, a retry or the next poll of the schedule writes nothing (returns None).
    """
    now = now or timezone.now()
    week = monday(timezone.localdate(now, organisation_zone()))
    start = week_start_instant(week)
    rates = rates_on(week)
    with transaction.atomic():
        # A run that starts inside this week (taken before the week start was changed)
        # counts as this week's: the schedule polls, so this is what makes it a no-op.
        if ForecastSnapshotRun.objects.filter(
            week__gte=week, week__lt=week + timedelta(days=7)
        ).exists():
            return None
        try:
            with transaction.atomic():
                run = ForecastSnapshotRun.objects.create(week=week, taken_at=start)
        except IntegrityError:
            return None
        count = snapshot_lines_insert(run=run, rates=rates, deals=deals_as_of(start))
        snapshot_totals_insert(run=run, lines=ForecastSnapshotLine.objects.filter(run=run))
        ForecastSnapshotRun.objects.filter(pk=run.pk).update(deal_count=count)
        run.deal_count = count
    return run


def deals_as_they_are(deals: QuerySet[Deal]) -> QuerySet[Deal]:
    """`deals` with the columns a snapshot line reads (`s_stage`, `s_status`, `s_value`,
    `s_currency`, `s_close`, `s_owner`, `s_probability`), as they stand now."""
    return deals.annotate(
        s_stage=F("stage_id"),
        s_status=F("status"),
        s_value=F("value"),
        s_currency=F("currency"),
        s_close=F("expected_close_date"),
        s_owner=F("owner_id"),
        s_probability=F("stage__probability"),
    )


def deals_as_of(instant: datetime) -> QuerySet[Deal]:
    """The deals open at `instant`, with the columns a snapshot line reads as they stood then
    (see `deals_as_they_are`). One query, set-based:

    - a deal not written since (`updated_at` before `instant`; every change goes through a
      service that saves it) is read as it is;
    - a deal created after `instant` is left out;
    - the stage is the one its last stage change at or before `instant` entered (StageChange);
    - value, currency, expected close date, owner and status are those of its first
      DealRevision after `instant` (the fields as they were before that change); a deal with
      none (changed only by paths that keep no revision, or before revisions were kept) has
      its own, except that a deal won or lost (`closed_at`) or paused (`paused_at`) after
      `instant` counts as open then.

    Approximations, where no history exists: the stage's probability is today's; an owner
    handed over by deactivating a user shows the new owner, and a deal reopened or resumed
    after `instant` without a revision (before revisions were kept) counts as open.
    """
    changed = Q(updated_at__gte=instant)
    later = DealRevision.objects.filter(deal_id=OuterRef("pk"), at__gt=instant).order_by("at", "pk")
    # Each condition is one pass over the rows since `instant` (PostgreSQL hashes them), so
    # only the deals revised or moved since pay for the lookups of their history.
    revised = changed & Exists(later)
    moved_since = StageChange.objects.filter(deal_id=OuterRef("pk"), at__gt=instant)
    moved = changed & (Exists(moved_since) | ~Q(status=DealStatus.OPEN))
    entered = StageChange.objects.filter(deal_id=OuterRef("pk"), at__lte=instant).order_by(
        "-at", "-pk"
    )

    def before(field: str, output_field) -> Case:
        """The field as it was before the first revision after `instant`, else the deal's."""
        return Case(
            When(revised, then=Subquery(later.values(field)[:1])),
            default=F(field),
            output_field=output_field,
        )

    def then(field: str, own: str, output_field) -> Case:
        """The stage's `field` as of `instant`, else (no change recorded by then) `own`."""
        return Case(
            When(moved, then=Coalesce(Subquery(entered.values(field)[:1]), F(own))),
            default=F(own),
            output_field=output_field,
        )

    closed = [DealStatus.WON, DealStatus.LOST]
    return (
        Deal.objects.filter(created_at__lte=instant)
        .filter(Q(status=DealStatus.OPEN) | changed)
        .annotate(
            s_status=Case(
                When(revised, then=Subquery(later.values("status")[:1])),
                When(
                    changed & Q(status__in=closed, closed_at__gt=instant),
                    then=Value(DealStatus.OPEN.value),
                ),
                When(
                    changed & Q(status=DealStatus.PAUSED, paused_at__gt=instant),
                    then=Value(DealStatus.OPEN.value),
                ),
                default=F("status"),
                output_field=CharField(),
            )
        )
        .filter(s_status=DealStatus.OPEN)
        .annotate(
            s_stage=then("to_stage_id", "stage_id", IntegerField()),
            s_probability=then("to_stage__probability", "stage__probability", IntegerField()),
            s_value=before("value", MONEY),
            s_currency=before("currency", CharField()),
            s_close=before("expected_close_date", DateField()),
            s_owner=before("owner_id", IntegerField()),
        )
    )


LINE_COLUMNS = (
    "run_id",
    "deal_id",
    "pipeline_id",
    "stage_id",
    "owner_id",
    "status",
    "expected_close_date",
    "value",
    "weighted",
)


def snapshot_lines_insert(*, run: ForecastSnapshotRun, rates, deals) -> int:
    """Write one snapshot line per deal of `deals` (with the columns of `deals_as_of` or
    `deals_as_they_are`; value and weighted value in the reporting currency at `rates`,
    each rounded once to the cent), with one INSERT ... SELECT. Returns the number of lines.

    The deals' columns come from a derived table the database may not fold into the outer
    query (OFFSET 0), so each deal's as-of columns are worked out once, not once per use in
    the conversion."""
    select, params = _lines_select(run=run, rates=rates, deals=deals)
    with connection.cursor() as cursor:
        cursor.execute(
            # "WHERE true" keeps SQLite from reading ON CONFLICT as part of a join.
            f"INSERT INTO {ForecastSnapshotLine._meta.db_table} ({', '.join(LINE_COLUMNS)}) "
            f"{select} WHERE true ON CONFLICT DO NOTHING",
            params,
        )
        return cursor.rowcount


def _lines_select(*, run: ForecastSnapshotRun, rates, deals) -> tuple[str, list]:
    columns = deals.order_by().annotate(s_id=F("pk"), s_pipeline=F("pipeline_id"))
    sql, params = columns.values_list(
        "s_id",
        "s_pipeline",
        "s_stage",
        "s_owner",
        "s_status",
        "s_close",
        "s_value",
        "s_currency",
        "s_probability",
    ).query.sql_with_params()
    fence = "OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0"
    rate = "CASE d.s_currency " + " ".join("WHEN %s THEN %s" for _ in rates) + " END"
    rate_params = [part for currency, r in rates.items() for part in (currency, r.rate)]
    select = (
        f"SELECT %s, d.s_id, d.s_pipeline, d.s_stage, d.s_owner, d.s_status, d.s_close, "
        f"ROUND(d.s_value * {rate}, 2), ROUND(d.s_value * {rate} * d.s_probability / 100, 2) "
        f"FROM ({sql} {fence}) AS d"
    )
    return select, [run.pk, *rate_params, *rate_params, *params]


def snapshot_totals_insert(*, run: ForecastSnapshotRun, lines) -> None:
    """Write the run's totals per pipeline, owner, stage and period of every kind, from
    `lines` (the run's lines, or a subset of them), with one INSERT ... SELECT per kind."""
    for kind in KINDS:
        totals = (
            lines.filter(expected_close_date__isnull=False)
            .annotate(period=period_trunc("expected_close_date", kind))
            .values("pipeline_id", "owner_id", "stage_id", "period")
            .annotate(n=Count("pk"), v=Sum("value"), w=Sum("weighted"))
            .annotate(
                s_run=Value(run.pk, output_field=IntegerField()),
                s_week=Value(run.week, output_field=DateField()),
                s_kind=Value(kind, output_field=CharField()),
            )
            .order_by()
            .values_list(
                "s_run",
                "s_week",
                "pipeline_id",
                "owner_id",
                "stage_id",
                "s_kind",
                "period",
                "n",
                "v",
                "w",
            )
        )
        _insert_from_select(
            ForecastSnapshot._meta.db_table,
            [
                "run_id",
                "week",
                "pipeline_id",
                "owner_id",
                "stage_id",
                "period_kind",
                "period_start",
                "count",
                "value",
                "weighted",
            ],
            totals,
        )


def _require_admin(user: User) -> None:
    if not access_for(user).is_admin:
        raise PermissionDenied(_("Only an admin can change this."))


@atomic_with_retry
def sales_target_set(
    *, acting_user: User, user: User, kind: str, start: date, amount: Decimal | None
) -> SalesTarget | None:
    """Set (or with amount None, remove) a rep's target for a period. Managers of a team the
    rep belongs to, and admins. Idempotent."""
    access = access_for(acting_user)
    rep_teams = set(user.memberships.values_list("team_id", flat=True))
    if not access.is_admin and not rep_teams & access.managed_team_ids:
        raise PermissionDenied(_("Only the rep's manager or an admin can set targets."))
    start = period_start(start, kind)
    if amount is None:
        SalesTarget.objects.filter(user=user, period_kind=kind, period_start=start).delete()
        return None
    target, _created = SalesTarget.objects.update_or_create(
        user=user,
        period_kind=kind,
        period_start=start,
        defaults={"amount": amount, "set_by": acting_user},
    )
    return target


@atomic_with_retry
def exchange_rate_set(
    *,
    acting_user: User,
    currency: str,
    rate: Decimal,
    valid_from: date,
    reporting_currency: str | None = None,
) -> ExchangeRate:
    """Set a currency's rate from a date (admins), in units of the reporting currency;
    `reporting_currency` is the one the rate was entered against, refused if it has changed
    since (the number would mean something else). Idempotent for the same day. Locks the
    organisation row first, so a rate and a change of reporting currency (which re-bases
    every rate) never interleave."""
    _require_admin(acting_user)
    if rate <= 0:
        raise DealRuleError(_("A rate must be above zero."))
    organisation = Organisation.objects.select_for_update(no_key=True).get(pk=organisation_get().pk)
    if reporting_currency and reporting_currency != organisation.reporting_currency:
        raise DealRuleError(
            _("The reporting currency is now %(currency)s; enter the rate in it.")
            % {"currency": organisation.reporting_currency}
        )
    if currency == organisation.reporting_currency:
        raise DealRuleError(_("The reporting currency is always worth 1."))
    row, _created = ExchangeRate.objects.update_or_create(
        currency=currency, valid_from=valid_from, defaults={"rate": rate, "set_by": acting_user}
    )
    rates_changed()
    return row


@atomic_with_retry
def stage_probability_apply(*, acting_user: User, stage: Stage, probability: int) -> Stage:
    """Set a stage's win probability (the calibration's "apply"). Admins only. No write when
    unchanged."""
    _require_admin(acting_user)
    if not 0 <= probability <= 100:
        raise DealRuleError(_("A probability is between 0 and 100 %."))
    stage = Stage.objects.select_for_update(no_key=True).get(pk=stage.pk)
    if stage.probability != probability:
        stage.probability = probability
        stage.save(update_fields=["probability"])
    return stage


def deal_review_mark(*, acting_user: User, deal: Deal, week: date, reviewed: bool = True) -> bool:
    """Mark a deal reviewed (or not) in a week's review. Assumes the caller may see the deal
    and manages its team. Idempotent. Returns whether it is now reviewed."""
    week = monday(week)
    if not reviewed:
        DealReview.objects.filter(deal=deal, week=week).delete()
        return False
    try:
        with transaction.atomic():
            DealReview.objects.get_or_create(
                deal=deal, week=week, defaults={"reviewer": acting_user}
            )
    except IntegrityError:  # marked at the same moment by someone else: fine
        pass
    return True
