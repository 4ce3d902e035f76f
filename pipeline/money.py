"""Money in the reporting currency, and how amounts are shown.

Exchange rates are set by admins (ExchangeRate rows, each valid from a date), in units of the
organisation's reporting currency; the fixed rates in settings are the fallback for a currency
that has none. Changing the reporting currency re-bases the rows in the same transaction
(`crm.services.organisation.organisation_update`), so they always mean "reporting currency per
unit". Rounding rule: amounts are summed
per currency in the database (exact decimals), each sum is converted with the rate in force
(and weighted by the stage's probability where asked), and every figure shown is rounded once,
to the cent, half up. A total is rounded from its exact parts, not summed from rounded cells.

Money version: a token in the shared cache that changes whenever the reporting currency or an
exchange rate does (`rates_changed()`, called on commit by every such write). Anything that
keeps a figure in money keeps it under a key holding `money_key()` (the currency and the
token), so a switch or a new rate is seen by every process at once, without waiting for a
cache entry to expire.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from crm.organisation import organisation_changed, reporting_currency

CENT = Decimal("0.01")
RATES_TTL_SECONDS = 60
MONEY_VERSION_KEY = "money:version"


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


_cache_lock = threading.Lock()
_cache: dict = {"rates": None, "day": None, "loaded": 0.0, "version": None}


def money_version() -> str:
    """The current money version (see the module docstring), kept without expiry in the same
    cache as the figures it versions; if it is evicted, a fresh token is drawn, which only
    orphans the entries made under the old one (a token is never reused). When it moved since
    this process last looked (another process changed the currency or a rate), this process's
    rates and organisation row are dropped, so the currency and the rates it goes on to read
    are the new ones, never one without the other."""
    version = cache.get(MONEY_VERSION_KEY)
    if version is None:
        cache.add(MONEY_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(MONEY_VERSION_KEY) or uuid.uuid4().hex  # a cache that keeps nothing
    with _cache_lock:
        if _cache["version"] != version:
            if _cache["version"] is not None:
                organisation_changed()
            _cache.update(rates=None, version=version)
    return version


def money_key() -> str:
    """'DKK:<version>': the part of a cache key every cached money figure must carry."""
    version = money_version()
    return f"{reporting_currency()}:{version}"


def current_rates() -> dict[str, Rate]:
    """Today's rates, read at most once a minute per process: rates change rarely and the
    board must not spend a query on them. `rates_changed()` drops them at once, here and,
    through the money version, in every other process."""
    money_version()
    today = timezone.localdate()
    key = (today, reporting_currency())
    with _cache_lock:
        fresh = time.monotonic() - _cache["loaded"] < RATES_TTL_SECONDS
        if _cache["rates"] is None or _cache["day"] != key or not fresh:
            _cache.update(rates=rates_on(today), day=key, loaded=time.monotonic())
        return _cache["rates"]


def rates_changed() -> None:
    """The reporting currency or an exchange rate changed: call on commit. Drops this
    process's rates and moves the money version on, which re-keys every cached figure."""
    version = uuid.uuid4().hex
    cache.set(MONEY_VERSION_KEY, version, timeout=None)
    with _cache_lock:
        _cache.update(rates=None, version=version)


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
