"""Money in the reporting currency, and how amounts are shown.

Rounding rule: amounts are summed per currency in the database (exact decimals), each sum is
converted with the fixed rate, and the converted total is rounded once to cents, half up.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.formats import number_format

CENT = Decimal("0.01")


def to_reporting(amount: Decimal, currency: str) -> Decimal:
    return (
        amount
        * settings.EXCHANGE_RATES[currency]
        / settings.EXCHANGE_RATES[settings.REPORTING_CURRENCY]
    )


def sum_in_reporting(amounts: Iterable[tuple[Decimal, str]]) -> Decimal:
    total = sum((to_reporting(a or Decimal(0), c) for a, c in amounts), Decimal(0))
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str, *, whole: bool = True) -> str:
    """'12.500 DKK' in German, '12,500 DKK' in English: the user's locale, the deal's currency."""
    if amount is None:
        return ""
    places = 0 if whole else 2
    number = number_format(amount, decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"{number} {currency}"


def format_compact(amount: Decimal, currency: str) -> str:
    """Column totals: '1.2M EUR', '450k EUR', '980 EUR'."""
    value = float(amount)
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= limit:
            shown = value / limit
            decimals = 1 if shown < 100 else 0
            number = number_format(round(shown, decimals), decimal_pos=decimals, use_l10n=True)
            return f"{number}{suffix} {currency}"
    return format_money(amount, currency)
