"""Amounts in the active language with the amount's own currency, from CLDR (Babel):
"12.500 kr." (da, DKK), "12 500 kr" (nb, NOK; sv, SEK), "12.500 €" (de, EUR), "€12,500"
(en-gb, EUR), the symbol where the language puts it. Every page, card, row, chart and export
label formats money here.

Babel's `format_currency` costs about 15 µs a call, too much for a board of hundreds of cards.
`money_formatter()` therefore returns a formatter whose shape for each (language, currency) -
the text before and after the digits, the grouping mark, for positive and negative amounts -
is read once from Babel's own output and checked against it, then filled in with Python's
integer grouping (under 1 µs). A shape Babel's output does not fit (a grouping other than
threes) keeps calling Babel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from babel import Locale
from babel import numbers as babel_numbers

from crm.web.formats import current_locale


@lru_cache(maxsize=64)
def _whole_pattern(locale: Locale) -> str:
    """The locale's currency pattern without decimals ("#,##0.00 ¤" -> "#,##0 ¤")."""
    return re.sub(r"0\.0+", "0", locale.currency_formats["standard"].pattern)


def _babel_money(amount: Decimal, currency: str, locale: Locale, whole: bool) -> str:
    if whole:
        text = babel_numbers.format_currency(
            amount, currency, format=_whole_pattern(locale), locale=locale, currency_digits=False
        )
    else:
        text = babel_numbers.format_currency(amount, currency, locale=locale)
    return _currency_spacing(text, babel_numbers.get_currency_symbol(currency, locale=locale))


@lru_cache(maxsize=512)
def _spacing_patterns(symbol: str) -> tuple[re.Pattern | None, re.Pattern | None]:
    escaped = re.escape(symbol)
    before = re.compile(rf"({escaped})(?=\d)") if symbol[-1:].isalpha() else None
    after = re.compile(rf"(?<=\d)({escaped})") if symbol[:1].isalpha() else None
    return before, after


def _currency_spacing(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a symbol of letters ("DKK", "CHF")
    is kept apart from the digits by a no-break space ("DKK 12,500" in en-gb, not
    "DKK12,500"); a sign ("€", "$") stays against them."""
    before, after = _spacing_patterns(symbol)
    if before is not None:
        text = before.sub("\\1\u00a0", text, count=1)
    if after is not None:
        text = after.sub("\u00a0\\1", text, count=1)
    return text


@dataclass(frozen=True)
class _Shape:
    prefix: str
    suffix: str
    negative_prefix: str
    negative_suffix: str
    group: str

    def format(self, amount: Decimal) -> str:
        whole = round(amount)  # an int, rounded half to even as Babel rounds
        digits = f"{abs(whole):,}"
        if self.group != ",":
            digits = digits.replace(",", self.group)
        if whole < 0:
            return f"{self.negative_prefix}{digits}{self.negative_suffix}"
        return f"{self.prefix}{digits}{self.suffix}"


_PROBE = 1234567
_PROBE_TEXT = re.compile(r"(\D*)1(?P<group>\D)234(?P=group)567(\D*)")


def _split(text: str) -> tuple[str, str, str] | None:
    """'1.234.567 kr.' -> ('', ' kr.', '.'): what stands before and after the digits."""
    match = _PROBE_TEXT.fullmatch(text)
    if match is None:
        return None
    return match.group(1), match.group(3), match.group(2)


@lru_cache(maxsize=512)
def _shape(locale: Locale, currency: str) -> _Shape | None:
    positive = _split(_babel_money(Decimal(_PROBE), currency, locale, True))
    negative = _split(_babel_money(Decimal(-_PROBE), currency, locale, True))
    if positive is None or negative is None or positive[2] != negative[2]:
        return None
    shape = _Shape(positive[0], positive[1], negative[0], negative[1], positive[2])
    for check in (Decimal("0"), Decimal("999"), Decimal("1000"), Decimal("-12500.5")):
        if shape.format(check) != _babel_money(check, currency, locale, True):
            return None
    return shape


def _whole(amount: Decimal, currency: str, locale: Locale) -> str:
    shape = _shape(locale, currency) if currency else None
    if shape is None:
        if not currency:
            return babel_numbers.format_decimal(
                Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_EVEN), locale=locale
            )
        return _babel_money(Decimal(amount), currency, locale, True)
    return shape.format(amount)


def format_money(amount: Decimal | None, currency: str, *, whole: bool = True) -> str:
    """'12.500 kr.' (da, DKK), '€12,500' (en-gb, EUR); with `whole=False` the currency's own
    decimals ('12.500,50 kr.'). Empty for no amount."""
    if amount is None or amount == "":
        return ""
    locale = current_locale()
    if whole:
        return _whole(amount, currency, locale)
    if not currency:
        return babel_numbers.format_decimal(amount, locale=locale)
    return _babel_money(Decimal(amount), currency, locale, False)


def format_compact(amount: Decimal | None, currency: str) -> str:
    """Column totals and chart axes, CLDR's short form: '1,2 mio. kr.' (da), '€1.2m' (en-gb);
    below a thousand the whole amount ('980 kr.')."""
    if amount is None:
        return ""
    return _compact(Decimal(amount), currency, current_locale())


@lru_cache(maxsize=8192)
def _compact(value: Decimal, currency: str, locale: Locale) -> str:
    """Babel's compact forms parse their patterns on every call (about 40 µs); a board draws
    two per column on every page, the same totals until a deal changes: kept per process."""
    if abs(value) < 1000:
        return _whole(value, currency, locale)
    if not currency:
        return babel_numbers.format_compact_decimal(value, locale=locale, fraction_digits=1)
    return babel_numbers.format_compact_currency(value, currency, locale=locale, fraction_digits=1)


def money_formatter() -> Callable[[Decimal | None, str], str]:
    """`format_money` (whole units) bound to the active language once, for pages that format
    hundreds of amounts in one render (cards, review rows)."""
    locale = current_locale()
    shapes: dict[str, _Shape | None] = {}

    def money(amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return ""
        try:
            shape = shapes[currency]
        except KeyError:
            shape = shapes[currency] = _shape(locale, currency) if currency else None
        if shape is None:
            return _whole(amount, currency, locale)
        return shape.format(amount)

    return money
