"""Money in the reporting currency, and how amounts are shown.

Exchange rates are set by admins (ExchangeRate rows, each valid from a date), in units of the
organisation's reporting currency; the fixed rates in settings are the fallback for a currency
that has none. Changing the reporting currency re-bases the rows in the same transaction
(`crm.services.organisation.organisation_update`), so they always mean "reporting currency per
unit". Rounding rule: amounts are summed
per currency in the database (exact decimals), each sum is converted with the rate in force
(and weighted by the stage's probability where asked), and every figure shown is rounded once,
to the cent, half up. A total is rounded from its exact parts, not summed from rounded cells.

Money version: the shared version `money` (`crm.shared`), which every change of the reporting
currency or of an exchange rate moves on after commit (`rates_changed()`). Anything that keeps
a figure in money keeps it under a key holding `money_key()` (the currency and the token), and
each process keeps today's rates in memory only under the current token, so a switch or a new
rate is seen by every process and node at once, without waiting for anything to expire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from crm.organisation import reporting_currency
from crm.shared import Memo, changed, version

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rate:
    currency: str
    rate: Decimal  # reporting-currency units per unit of `currency`
    valid_from: date | None  # None: the settings' fallback


def rates_on(day: date, *, reporting: str | None = None) -> dict[str, Rate]:
    """The rates in force on `day`, one query."""
    from pipeline.models import ExchangeRate

    rows = ExchangeRate.objects.filter(valid_from__lte=day).values_list(
        "currency", "rate", "valid_from"
    )
    return rates_from(rows, day=day, reporting=reporting or reporting_currency())


def rates_from(rows: Iterable[tuple[str, Decimal, date]], *, day: date, reporting: str):
    """The rates in force on `day` from (currency, rate, valid_from) rows: each currency's
    latest row up to `day`, else the settings' fallback; the reporting currency is 1."""
    base = settings.EXCHANGE_RATES[reporting]
    rates = {
        currency: Rate(currency, value / base, None)
        for currency, value in settings.EXCHANGE_RATES.items()
    }
    latest: dict[str, tuple] = {}
    for currency, rate, valid_from in rows:
        if valid_from <= day and (currency not in latest or valid_from > latest[currency][2]):
            latest[currency] = (currency, rate, valid_from)
    for currency, row in latest.items():
        rates[currency] = Rate(*row)
    rates[reporting] = Rate(reporting, Decimal(1), None)
    return rates


def money_version() -> str:
    """The current money version (see the module docstring)."""
    return version("money")


def money_key() -> str:
    """'DKK:<version>': the part of a cache key every cached money figure must carry."""
    return f"{reporting_currency()}:{money_version()}"


_rates = Memo("money", lambda key: rates_on(key[0], reporting=key[1]))


def current_rates() -> dict[str, Rate]:
    """Today's rates, read once per process and kept while the money version stays: the board
    must not spend a query on them. `rates_changed()` moves the version on, here and in every
    other process."""
    return _rates.get((timezone.localdate(), reporting_currency()))


def rates_changed() -> None:
    """The reporting currency or an exchange rate changed: call in the writing transaction
    (or after it). Moves the money version on after commit, which re-keys every cached figure
    and makes every process read the rates again."""
    changed("money")


def to_reporting(amount: Decimal, currency: str, rates: dict[str, Rate] | None = None) -> Decimal:
    rates = rates or current_rates()
    return amount * rates[currency].rate


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def sum_in_reporting(
    amounts: Iterable[tuple[Decimal, str]], rates: dict[str, Rate] | None = None
) -> Decimal:
    rates = rates or current_rates()
    total = sum((to_reporting(a or Decimal(0), c, rates) for a, c in amounts), Decimal(0))
    return round_cents(total)
