"""Writes on the organisation row: name, reporting currency, time zone and week start.

Exchange rates are stored as "units of the reporting currency per unit of a currency"
(`pipeline.models.ExchangeRate`), and every stored total in the reporting currency (weekly
snapshots, sales targets, tier thresholds, companies' expected values) is a number in that
currency. Changing the reporting currency therefore re-bases the rates and re-denominates
those totals in the same transaction, with the rates that were in force for each of them:
before and after, every figure is the same amount of money, only counted in another unit.
Storing rates against a fixed anchor currency instead would have kept the rates untouched but
not the stored totals, which would still need the same conversion.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, F, Value
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import User
from crm.models import Company, Organisation, TierChange, WeekStart
from crm.organisation import organisation_changed, organisation_get
from crm.rules import RuleError
from crm.shared import changed as shared_changed
from crm.transactions import atomic_with_retry

RATE_PLACES = Decimal("0.00000001")  # ExchangeRate.rate has 8 decimal places
MONEY = DecimalField(max_digits=18, decimal_places=2)
RATE = DecimalField(max_digits=18, decimal_places=8)


class OrganisationRuleError(RuleError):
    """A change refused by a rule; `field` names the form field the message belongs to."""


def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def language_codes() -> list[str]:
    """The languages the interface speaks (settings.LANGUAGES)."""
    return [code for code, _name in settings.LANGUAGES]


def currencies() -> list[str]:
    """Currencies a reporting currency can be: those with a fallback rate."""
    from pipeline.models import Currency

    return [c for c in Currency.values if c in settings.EXCHANGE_RATES]


@atomic_with_retry
def organisation_update(
    *,
    acting_user: User,
    name: str,
    reporting_currency: str,
    time_zone: str,
    week_start: int,
    language: str | None = None,
) -> Organisation:
    """Change the organisation's settings (`language` None: left as it is). Admins only
    (PermissionDenied otherwise); the input is checked again here, whatever the form did.
    Locks the organisation row, which `exchange_rate_set` locks too, so a new rate never
    lands half-way through a re-base. No write when nothing changes; idempotent. Every
    process and node sees the change with its next request after commit (`crm.shared`
    versions `organisation` and `money`)."""
    if not access_for(acting_user).is_admin:
        raise PermissionDenied(_("Only an admin can change the organisation's settings."))
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise OrganisationRuleError(_("A name of 1 to 100 characters, please."), field="name")
    if reporting_currency not in currencies():
        raise OrganisationRuleError(
            _("Pick one of the listed currencies."), field="reporting_currency"
        )
    if time_zone not in time_zone_names():
        raise OrganisationRuleError(
            _("Unknown time zone; use a name like Europe/Copenhagen."), field="time_zone"
        )
    if week_start not in WeekStart.values:
        raise OrganisationRuleError(_("Weeks start on Monday or Sunday."), field="week_start")
    if language is not None and language not in language_codes():
        raise OrganisationRuleError(_("Pick one of the listed languages."), field="language")

    organisation = Organisation.objects.select_for_update(no_key=True).get(pk=organisation_get().pk)
    changes = {
        "name": name,
        "reporting_currency": reporting_currency,
        "time_zone": time_zone,
        "week_start": week_start,
        "language": organisation.language if language is None else language,
    }
    changed = [field for field, value in changes.items() if getattr(organisation, field) != value]
    if not changed:
        return organisation
    if "reporting_currency" in changed:
        _redenominate(
            organisation,
            old=organisation.reporting_currency,
            new=reporting_currency,
            acting_user=acting_user,
        )
        changed += ["tier_a_threshold", "tier_b_threshold"]
    for field in ("name", "reporting_currency", "time_zone", "week_start", "language"):
        setattr(organisation, field, changes[field])
    organisation.save(update_fields=[*changed, "updated_at"])
    organisation_changed()
    if "reporting_currency" in changed:
        shared_changed("money")  # every rate was re-based: pipeline.money.rates_changed()
    return organisation


@dataclass(frozen=True)
class _Span:
    """Dates [start, end) on which the new reporting currency was worth `rate` in the old."""

    start: date | None
    end: date | None
    rate: Decimal

    def lookup(self, field: str) -> dict:
        bounds = {}
        if self.start is not None:
            bounds[f"{field}__gte"] = self.start
        if self.end is not None:
            bounds[f"{field}__lt"] = self.end
        return bounds


def _redenominate(organisation: Organisation, *, old: str, new: str, acting_user: User) -> None:
    from pipeline.models import (
        ExchangeRate,
        ForecastSnapshot,
        ForecastSnapshotLine,
        ForecastSnapshotRun,
        SalesTarget,
    )
    from pipeline.money import rates_from

    rows = list(ExchangeRate.objects.select_for_update(no_key=True).order_by("pk"))
    triples = [(r.currency, r.rate, r.valid_from) for r in rows]

    def old_rates(day: date):
        return rates_from(triples, day=day, reporting=old)

    # The new currency's worth in the old one changes only on its own rates' dates.
    change_days = sorted({r.valid_from for r in rows if r.currency == new})
    starts = [None, *change_days]
    spans = [
        _Span(start, end, old_rates(start or date.min)[new].rate)
        for start, end in zip(starts, [*change_days, None], strict=True)
    ]

    # 1. Rates: a currency's rate in the new unit changes when its own rate or the new
    # currency's changes, so it gets a row on each of those days. The new currency is 1.
    kept = {(r.currency, r.valid_from): r for r in rows}
    now = timezone.now()
    rebased = []
    for currency in currencies():
        if currency == new:
            continue
        days = {r.valid_from for r in rows if r.currency == currency} | set(change_days)
        for day in sorted(days):
            rates = old_rates(day)
            rate = (rates[currency].rate / rates[new].rate).quantize(
                RATE_PLACES, rounding=ROUND_HALF_EVEN
            )
            if rate <= 0:
                raise OrganisationRuleError(
                    _("%(currency)s is too small to express in %(new)s.")
                    % {"currency": currency, "new": new},
                    field="reporting_currency",
                )
            before = kept.get((currency, day))
            rebased.append(
                ExchangeRate(
                    currency=currency,
                    valid_from=day,
                    rate=rate,
                    set_by_id=before.set_by_id if before else acting_user.pk,
                    created_at=before.created_at if before else now,
                )
            )
    ExchangeRate.objects.filter(pk__in=[r.pk for r in rows]).delete()
    ExchangeRate.objects.bulk_create(rebased)

    # 2. Stored totals, each divided by what the new currency was worth when it was made.
    zone = zoneinfo.ZoneInfo(organisation.time_zone)
    runs = list(ForecastSnapshotRun.objects.values_list("pk", "taken_at"))
    for span in spans:
        divide = {"rate": Value(span.rate, output_field=RATE)}
        run_ids = [
            pk
            for pk, taken_at in runs
            if (span.start is None or timezone.localdate(taken_at, zone) >= span.start)
            and (span.end is None or timezone.localdate(taken_at, zone) < span.end)
        ]
        if run_ids:
            for model in (ForecastSnapshotLine, ForecastSnapshot):
                model.objects.filter(run_id__in=run_ids).update(
                    value=_divided("value", **divide), weighted=_divided("weighted", **divide)
                )
        SalesTarget.objects.filter(**span.lookup("period_start")).update(
            amount=_divided("amount", **divide)
        )
        TierChange.objects.filter(expected_value__isnull=False, **span.lookup("at__date")).update(
            expected_value=_divided("expected_value", **divide)
        )
    today = timezone.localdate(timezone.now(), zone)
    rate_today = old_rates(today)[new].rate
    Company.objects.filter(expected_value__isnull=False).update(
        expected_value=_divided("expected_value", rate=Value(rate_today, output_field=RATE))
    )
    organisation.tier_a_threshold = _cents(organisation.tier_a_threshold / rate_today)
    organisation.tier_b_threshold = _cents(organisation.tier_b_threshold / rate_today)


def _divided(field: str, *, rate: Value) -> Round:
    return Round(F(field) / rate, 2, output_field=MONEY)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
