"""Numbers, percentages, dates and times in the active language, from CLDR (Babel).

No pattern is written by hand here: every separator, symbol, month name and date order comes
from the Unicode CLDR data Babel ships (docs/decisions.md). Babel objects are costly to build
and its formatting functions cost 10-20 µs a call, so what a page formats hundreds of times
(a board's card dates and amounts) goes through small caches keyed by language:

- `babel_locale(language)`: one parsed `babel.Locale` per language, for the process's life;
- `day_month(day)`: "3 Nov", "3. nov.", "3 nov." for a card, one Babel call per distinct
  (language, month, day), a dict lookup afterwards.

Machine formats stay machine formats: ids are never grouped (`USE_THOUSAND_SEPARATOR` stays
off), `<input type=date>` values, `datetime=` attributes, CSV and XLSX cells are ISO or plain
numbers; only what a person reads goes through this module.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

# Django's language codes to CLDR locales. The territory matters: it decides the week's first
# day and the ISO week rule (`min_week_days` 4) that "da" alone, read as the world's default,
# would not give.
_LOCALES = {
    "en-gb": "en_GB",
    "en": "en_GB",
    "da": "da_DK",
    "nb": "nb_NO",
    "no": "nb_NO",
    "sv": "sv_SE",
    "de": "de_DE",
}

DATE_FORMATS = ("short", "medium", "long", "full")


def active_language() -> str:
    return (get_language() or settings.LANGUAGE_CODE).lower()


@lru_cache(maxsize=32)
def babel_locale(language: str | None = None) -> Locale:
    """The Babel locale of a Django language code ("da", "en-gb"), parsed once per process."""
    code = (language or settings.LANGUAGE_CODE).lower()
    name = _LOCALES.get(code) or _LOCALES.get(code.split("-")[0])
    if name is None:
        try:
            return Locale.parse(code.replace("-", "_"))
        except (ValueError, LookupError):
            name = _LOCALES[settings.LANGUAGE_CODE.lower()]
    return Locale.parse(name)


def current_locale() -> Locale:
    return babel_locale(active_language())


# --- numbers -------------------------------------------------------------------------------


def format_number(value, decimals: int | None = None) -> str:
    """12500.5 as "12.500,5" (da), "12 500,5" (sv), "12,500.5" (en-gb). `decimals` fixes the
    number of decimals; None keeps every decimal the value has (an exchange rate's four)."""
    if value is None or value == "":
        return ""
    if decimals is None:
        return babel_numbers.format_decimal(
            value, locale=current_locale(), decimal_quantization=False
        )
    fixed = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return babel_numbers.format_decimal(
        round(Decimal(str(value)), decimals), format=fixed, locale=current_locale()
    )


def format_percent(ratio, decimals: int = 0) -> str:
    """0.253 as "25 %" (da, de, sv, nb: a no-break space) or "25%" (en-gb)."""
    if ratio is None or ratio == "":
        return ""
    return _percent(Decimal(str(ratio)), decimals, current_locale())


@lru_cache(maxsize=4096)
def _percent(ratio: Decimal, decimals: int, locale: Locale) -> str:
    """Kept per process: a page shows the same few percentages (stage probabilities) often."""
    pattern = locale.percent_formats[None].pattern  # "#,##0 %" (da), "#,##0%" (en-gb)
    if decimals > 0:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * decimals, 1)
    return babel_numbers.format_percent(ratio, format=pattern, locale=locale)


class NumberParseError(ValueError):
    """The text is not a number in the active language's format."""


_SPACES = ("\u202f", "\u00a0", "\u2009", " ")


def parse_number(text: str) -> Decimal:
    """A number typed in the active language: "12.500,50" (da, de), "12 500,50" (sv, nb, with
    a space, a no-break space or a narrow no-break space), "12,500.50" (en-gb); a plain
    "12500.50" or "12500,50" too. Raises `NumberParseError` otherwise (never guesses between
    a decimal and a grouping mark it cannot tell apart)."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise NumberParseError(text)
    locale = current_locale()
    symbols = babel_numbers.get_decimal_symbol(locale), babel_numbers.get_group_symbol(locale)
    decimal_mark, group_mark = symbols
    if group_mark in _SPACES:
        for space in _SPACES:
            cleaned = cleaned.replace(space, group_mark)
    cleaned = cleaned.replace("\u2212", "-")  # the minus sign CLDR's sv and nb print
    try:
        return babel_numbers.parse_decimal(cleaned, locale=locale, strict=True)
    except babel_numbers.NumberFormatError as error:
        # "12500.50" in a comma language: a machine's decimal point, accepted when it cannot
        # be a grouping mark (no group of three digits after it).
        suggestions = getattr(error, "suggestions", None) or []
        if decimal_mark != "." and cleaned.count(".") == 1 and group_mark != ".":
            try:
                return Decimal(cleaned)
            except InvalidOperation:
                pass
        if decimal_mark != "." and group_mark == "." and _plain_decimal_point(cleaned):
            return Decimal(cleaned)
        raise NumberParseError(text, suggestions) from error
    except (InvalidOperation, ValueError) as error:
        raise NumberParseError(text) from error


def _plain_decimal_point(text: str) -> bool:
    """'12500.5' or '12500.50' (not '12.500', which is twelve thousand five hundred in da)."""
    head, dot, tail = text.partition(".")
    return bool(dot) and "," not in text and len(tail) != 3 and head.lstrip("-").isdigit()


# --- dates and times -----------------------------------------------------------------------


def _as_local_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


def format_date(value: date | datetime | None, form: str = "medium") -> str:
    """A date as the language writes it. `form` is a CLDR length ("short": 31.12.2026 in
    da/de/nb, 2026-12-31 in sv, 31/12/2026 in en-gb, always four digits of year; "medium",
    "long", "full") or a CLDR
    skeleton ("MMMd" for "31. dec.", "yMMM" for "dec. 2026", "yMMMEd" with the weekday). A
    moment is shown as its date in the active (the organisation's) time zone."""
    if value is None or value == "":
        return ""
    day = _as_local_date(value)
    locale = current_locale()
    if form in DATE_FORMATS:
        return _date_cached(day, form, locale)
    return _skeleton_cached(day, form, locale)


@lru_cache(maxsize=8192)
def _date_cached(day: date, form: str, locale: Locale) -> str:
    if form == "short":
        return babel_dates.format_date(day, _short_pattern(locale), locale=locale)
    return babel_dates.format_date(day, form, locale=locale)


@lru_cache(maxsize=32)
def _short_pattern(locale: Locale) -> str:
    """CLDR's short date with the year in full: 01.01.2027 (da, nb, de), 2027-01-01 (sv),
    01/01/2027 (en-gb). CLDR's German short date has a two-digit year (01.01.27), which no
    German spreadsheet shows; its digits and their order stay CLDR's."""
    pattern = str(locale.date_formats["short"].pattern)
    if "yyy" not in pattern:
        pattern = pattern.replace("yy", "y")
    return pattern


@lru_cache(maxsize=8192)
def _skeleton_cached(day: date, skeleton: str, locale: Locale) -> str:
    return babel_dates.format_skeleton(skeleton, day, locale=locale)


def day_month(value: date | datetime) -> str:
    """'3 Nov' (en-gb), '3. nov.' (da), '3. Nov.' (de): the board's short date, from a cache
    of one entry per language and day of the year."""
    day = _as_local_date(value)
    return _day_month_cached(day.month, day.day, current_locale())


def day_month_formatter():
    """`day_month` bound to the active language once, for a render of hundreds of cards."""
    locale = current_locale()
    cached = _day_month_cached

    def short(value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
        return cached(value.month, value.day, locale)

    return short


@lru_cache(maxsize=2048)
def _day_month_cached(month: int, day: int, locale: Locale) -> str:
    return babel_dates.format_skeleton("MMMd", date(2000, month, day), locale=locale)


def format_time(value: time | datetime | None) -> str:
    """'14:05' (en-gb, de, sv, nb), '14.05' (da): CLDR's short time, a moment in the active
    (the organisation's) time zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return babel_dates.format_time(value, "short", locale=current_locale())


def format_datetime(value: datetime | None, form: str = "medium") -> str:
    """A moment in the active (the organisation's) time zone: the date in `form`, the time
    without seconds, joined the way the language joins them ("31 Dec 2026, 14:05",
    "31. dec. 2026 14.05", "31.12.2026, 14:05")."""
    if value is None or value == "":
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    locale = current_locale()
    joined = locale.datetime_formats.get(form if form in DATE_FORMATS else "medium")
    joined = str(joined or "{1} {0}")
    return joined.replace("{1}", format_date(value.date(), form)).replace("{0}", format_time(value))


def parse_date(text: str) -> date:
    """A date typed in the language's short form ("31.12.2026", "2026-12-31", "31/12/2026")
    or ISO 8601. Raises ValueError otherwise."""
    cleaned = (text or "").strip()
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        pass
    locale = current_locale()
    for form in ("short", "medium"):
        try:
            parsed = babel_dates.parse_date(cleaned, locale=locale, format=form)
        except (ValueError, IndexError) as error:
            last = error
            continue
        if parsed.year < 100:
            parsed = parsed.replace(year=parsed.year + 2000)
        return parsed
    raise ValueError(f"not a date: {text!r}") from last


def week_number(value: date) -> int:
    """The week's number as ISO 8601 counts it (weeks start on Monday, week 1 holds the
    year's first Thursday), which every language here expects (CLDR: first day Monday,
    four minimal days)."""
    return value.isocalendar().week
