"""Reads for the organisation settings page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from pipeline.models import ExchangeRate

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class CurrentRate:
    currency: str
    rate: Decimal
    valid_from: date | None  # None: the standard (fallback) rate
    set_by: str


def exchange_rates_current(*, reporting_currency: str) -> list[CurrentRate]:
    """Each currency's rate in force today (from a row or the standard rate), with its date
    and who set it. One query."""
    from pipeline.money import rates_from

    today = timezone.localdate()
    rows = list(
        ExchangeRate.objects.filter(valid_from__lte=today)
        .select_related("set_by")
        .order_by("currency", "-valid_from")
    )
    rates = rates_from(
        [(r.currency, r.rate, r.valid_from) for r in rows], day=today, reporting=reporting_currency
    )
    setters = {(r.currency, r.valid_from): r.set_by for r in rows}
    current = []
    for currency in sorted(rates):
        if currency == reporting_currency:
            continue
        rate = rates[currency]
        who = setters.get((currency, rate.valid_from))
        current.append(CurrentRate(currency, rate.rate, rate.valid_from, str(who) if who else ""))
    return current


def exchange_rate_history() -> QuerySet[ExchangeRate]:
    """The latest rates entered (future-dated ones included), newest first."""
    return ExchangeRate.objects.select_related("set_by").order_by("-valid_from", "currency")[
        :HISTORY_LIMIT
    ]
