"""Amounts in the user's locale: '12.500 DKK' in German, '12,500 DKK' in English, always with
the amount's own currency. Every page, card, row, chart and export label formats money here."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.utils import numberformat
from django.utils.formats import get_format, number_format
from django.utils.translation import get_language


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


def money_formatter() -> Callable[[Decimal, str], str]:
    """`format_money` (whole units) with the locale's separators looked up once, for pages
    that format hundreds of amounts in one render (cards, review rows)."""
    lang = get_language()
    decimal = get_format("DECIMAL_SEPARATOR", lang)
    grouping = get_format("NUMBER_GROUPING", lang)
    thousands = get_format("THOUSAND_SEPARATOR", lang)

    def money(amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return ""
        number = numberformat.format(
            amount, decimal, 0, grouping, thousands, force_grouping=True, use_l10n=True
        )
        return f"{number} {currency}"

    return money
