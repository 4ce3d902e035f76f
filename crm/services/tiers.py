"""ABC tiers: the recompute job, the thresholds and a tier set by hand.

Expected value of a company (docs/product.md) = value won in the last 12 months + weighted value of
its open deals (value in the reporting currency x the stage's probability). Paused and lost
deals are left out. A at or above the A threshold, B at or above the B threshold, else C.

Money follows pipeline/money.py: amounts are summed per company, currency and probability in
the database (exact decimals), each sum is converted with today's rate (the same rates as the
forecast) and the company's total is rounded once, to the cent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from crm.broker import enqueue
from crm.models import Company, Organisation, Tier, TierChange
from crm.organisation import organisation_changed, organisation_get
from crm.rules import RuleError
from crm.transactions import atomic_with_retry
from pipeline.models import Deal, DealStatus
from pipeline.money import Rate, rates_on, round_cents

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# `company_update(tier=KEEP_TIER)`: the form did not offer the tier; leave it alone.
KEEP_TIER = "keep"
ZERO = Decimal("0.00")


class TierRuleError(RuleError):
    """Input refused by a rule; `field` names the form field the message belongs to."""


@dataclass
class TierRecomputeResult:
    companies: int = 0  # companies looked at
    updated: int = 0  # companies whose expected value or tier was written
    tier_changes: int = 0  # TierChange rows recorded
    tiers: dict[str, int] = field(default_factory=lambda: {t: 0 for t in Tier.values})


def tier_for(expected_value: Decimal, *, a_threshold: Decimal, b_threshold: Decimal) -> str:
    """A at or above the A threshold, B at or above the B threshold, else C."""
    if expected_value >= a_threshold:
        return Tier.A
    if expected_value >= b_threshold:
        return Tier.B
    return Tier.C


def won_since(now: datetime, tz: ZoneInfo) -> datetime:
    """The start of "the last 12 months": local midnight of the same day a year ago (28
    February for the 29th)."""
    today = now.astimezone(tz).date()
    try:
        start = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        start = date(today.year - 1, 2, 28)
    return datetime.combine(start, time.min, tzinfo=tz)


def expected_values(
    *, company_ids_from: int, company_ids_to: int, since: datetime, rates: dict[str, Rate]
) -> dict[int, Decimal]:
    """Expected value of every company with id in [from, to] that has a counted deal, in one
    aggregate query (grouped by company, status, currency and stage probability; an index
    range scan on deal.company_id). Companies missing from the answer have 0."""
    rows = (
        Deal.objects.filter(
            company_id__gte=company_ids_from,
            company_id__lte=company_ids_to,
        )
        .filter(Q(status=DealStatus.OPEN) | Q(status=DealStatus.WON, closed_at__gte=since))
        .values("company_id", "status", "currency", "stage__probability")
        .annotate(total=Sum("value"))
        .order_by()
    )
    exact: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        amount = (row["total"] or ZERO) * rates[row["currency"]].rate
        if row["status"] == DealStatus.OPEN:
            amount = amount * row["stage__probability"] / Decimal(100)
        exact[row["company_id"]] += amount
    return {company_id: round_cents(value) for company_id, value in exact.items()}


def tiers_recompute(
    *,
    acting_user: User | None = None,
    company_ids: list[int] | None = None,
    now: datetime | None = None,
) -> TierRecomputeResult:
    """Recompute every company's expected value and tier (or only `company_ids`').

    Runs in batches of companies in id order; each batch is one transaction that locks the
    organisation row (so two runs, or a run and a thresholds change, take turns per batch)
    and then the batch's companies in pk order, reads their deals' totals with one aggregate
    query, writes only the companies whose expected value or tier differs (bulk), and records
    a TierChange for each tier that changed, in the same transaction. A company whose tier was
    set by hand keeps it; its expected value is still stored. Memory stays flat in the number
    of companies and deals; no Python loop over deals.

    Idempotent and safe to run concurrently: a second run, or one waiting on the first,
    reads the committed result and writes and records nothing. No permission check: called by
    the nightly task, the settings page (admins) and `manage.py tiers_recompute`.
    `acting_user` is recorded on the tier changes when given.
    """
    now = now or timezone.now()
    organisation = organisation_get()
    tz = ZoneInfo(organisation.time_zone)
    since = won_since(now, tz)
    rates = rates_on(now.astimezone(tz).date())
    result = TierRecomputeResult()
    scope = Company.objects.order_by("pk")
    if company_ids is not None:
        scope = scope.filter(pk__in=company_ids)
    after = 0
    while True:
        with transaction.atomic():
            thresholds = (
                Organisation.objects.select_for_update(no_key=True)
                .filter(pk=organisation.pk)
                .values("tier_a_threshold", "tier_b_threshold")
                .get()
            )
            batch = list(
                scope.filter(pk__gt=after)
                .select_for_update(no_key=True)
                .only("pk", "tier", "tier_locked", "expected_value")[:BATCH_SIZE]
            )
            if not batch:
                break
            after = batch[-1].pk
            _recompute_batch(
                batch,
                values=expected_values(
                    company_ids_from=batch[0].pk,
                    company_ids_to=batch[-1].pk,
                    since=since,
                    rates=rates,
                ),
                a_threshold=thresholds["tier_a_threshold"],
                b_threshold=thresholds["tier_b_threshold"],
                acting_user=acting_user,
                now=now,
                result=result,
            )
    if company_ids is None:
        Organisation.objects.filter(pk=organisation.pk).update(tiers_recomputed_at=now)
        organisation_changed()
    logger.info(
        "tiers_recompute: %s companies, %s updated, %s tier changes",
        result.companies,
        result.updated,
        result.tier_changes,
    )
    return result


def _recompute_batch(
    batch: list[Company],
    *,
    values: dict[int, Decimal],
    a_threshold: Decimal,
    b_threshold: Decimal,
    acting_user: User | None,
    now: datetime,
    result: TierRecomputeResult,
) -> None:
    changed: list[Company] = []
    changes: list[TierChange] = []
    for company in batch:
        value = values.get(company.pk, ZERO)
        tier = company.tier
        if not company.tier_locked:
            tier = tier_for(value, a_threshold=a_threshold, b_threshold=b_threshold)
        result.companies += 1
        result.tiers[tier] += 1
        if tier == company.tier and company.expected_value == value:
            continue
        if tier != company.tier:
            changes.append(
                TierChange(
                    company_id=company.pk,
                    from_tier=company.tier,
                    to_tier=tier,
                    expected_value=value,
                    source=TierChange.Source.RECOMPUTE,
                    changed_by=acting_user,
                )
            )
        company.tier, company.expected_value, company.tier_computed_at = tier, value, now
        changed.append(company)
    if changed:
        Company.objects.bulk_update(
            changed, ["tier", "expected_value", "tier_computed_at"], batch_size=500
        )
        TierChange.objects.bulk_create(changes)
    result.updated += len(changed)
    result.tier_changes += len(changes)


# --- thresholds -----------------------------------------------------------------------------


def tiers_recompute_enqueue() -> bool:
    """Queue a recompute; call it on commit. A broker that is down never breaks the caller
    (see crm.broker): tonight's run catches up. Returns whether it was queued."""
    return enqueue("crm.tiers_recompute")


@atomic_with_retry
def tier_thresholds_update(
    *, acting_user: User, a_threshold: Decimal, b_threshold: Decimal
) -> bool:
    """Set the A and B thresholds (reporting currency); returns whether they changed.

    Assumes the caller passed `settings_access` (admins). Checks A >= B >= 0. When they
    change, a recompute is queued after commit. Idempotent: the same values change nothing
    and queue nothing.
    """
    if b_threshold < 0 or a_threshold < 0:
        raise TierRuleError(_("Thresholds cannot be negative."), field="b_threshold")
    if a_threshold < b_threshold:
        raise TierRuleError(
            _("The A threshold must be at least the B threshold."), field="a_threshold"
        )
    organisation_get()  # make sure the row exists
    organisation = Organisation.objects.select_for_update(no_key=True).get(pk=1)
    if (organisation.tier_a_threshold, organisation.tier_b_threshold) == (
        a_threshold,
        b_threshold,
    ):
        return False
    organisation.tier_a_threshold = a_threshold
    organisation.tier_b_threshold = b_threshold
    organisation.save(update_fields=["tier_a_threshold", "tier_b_threshold", "updated_at"])
    logger.info(
        "tier thresholds set to A %s / B %s by user %s", a_threshold, b_threshold, acting_user.pk
    )
    organisation_changed()
    transaction.on_commit(tiers_recompute_enqueue)
    return True


# --- a tier set by hand ------------------------------------------------------------------------


def company_tier_set(*, acting_user: User, company: Company, tier: str | None) -> bool:
    """Set the company's tier by hand and keep it (`tier` A/B/C), or hand it back to the
    recompute (`tier` None: unlocked, the next recompute decides). Returns whether anything
    changed; a tier change is recorded with source "manual".

    Must run inside the caller's transaction with the company row locked
    (`company_update` / `company_create` do both). Assumes the caller checked that the acting
    user may set tiers (`can_set_tier`). Idempotent.
    """
    if tier is not None and tier not in Tier.values:
        raise TierRuleError(_("Choose tier A, B or C."), field="tier")
    locked = tier is not None
    new_tier = tier if tier is not None else company.tier
    if (company.tier, company.tier_locked) == (new_tier, locked):
        return False
    if new_tier != company.tier:
        TierChange.objects.create(
            company=company,
            from_tier=company.tier,
            to_tier=new_tier,
            expected_value=company.expected_value,
            source=TierChange.Source.MANUAL,
            changed_by=acting_user,
        )
    Company.objects.filter(pk=company.pk).update(tier=new_tier, tier_locked=locked)
    company.tier, company.tier_locked = new_tier, locked
    return True
