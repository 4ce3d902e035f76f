"""Numbers and dates as people's spreadsheets write them, read once per column.

A number like `12.500` is 12500 in Copenhagen and 12.5 in London; `03/04/2026` is 3 April in
one country and 4 March in another. Such a value cannot be read alone, so a column is read as
a whole: `NumberEvidence` and `DateEvidence` count what the column's values show (a `12,5`
proves a decimal comma, a `31/12/2026` proves day first), `decide_number_style` and
`decide_date_order` pick one reading for the whole column, and `parse_number` and
`parse_date` read every value of the column with it. What was decided, and whether it was a
guess, is shown in the preview, where the user can turn it round.

Pure functions of text: no Django, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

# --- numbers ---------------------------------------------------------------------------------

# The two ways of writing 12500.5: "12,500.5" (DOT: "." is the decimal point) and "12.500,5"
# (COMMA: "," is the decimal point, as in Danish, German, Norwegian and Swedish).
DOT = "dot"
COMMA = "comma"
NUMBER_STYLES = (DOT, COMMA)

# Currency marks around an amount ("12 500,50 kr", "€1,234.50", "USD 99", "12.500,-"), and
# the ISO code each names (None: the mark does not say which currency, like "kr").
_CURRENCY_MARKS = {
    "€": "EUR",
    "eur": "EUR",
    "$": "USD",
    "usd": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "dkk": "DKK",
    "sek": "SEK",
    "nok": "NOK",
    "kr": None,
    "kr.": None,
    ",-": None,
    ".-": None,
}
_MARK_RE = re.compile(
    r"^\s*(?P<lead>€|\$|£|eur|usd|gbp|dkk|sek|nok|kr\.?)?\s*"
    r"(?P<number>.*?)"
    r"\s*(?P<trail>€|\$|£|eur|usd|gbp|dkk|sek|nok|kr\.?|,-|\.-)?\s*$",
    re.IGNORECASE,
)
# Thousands separators that are never a decimal point: spaces of every kind and apostrophes
# (Swiss "1'234.50").
_GROUP_MARKS = str.maketrans("", "", " \u00a0\u202f\u2009'’")
_DIGITS = re.compile(r"^\d+$")
_UNGROUPED = {DOT: re.compile(r"^\d+(\.\d+)?$"), COMMA: re.compile(r"^\d+(,\d+)?$")}
_GROUPED = {
    ",": re.compile(r"^\d{1,3}(,\d{3})+$"),
    ".": re.compile(r"^\d{1,3}(\.\d{3})+$"),
}


class Amount(NamedTuple):
    value: Decimal
    currency: str | None  # an ISO code named next to the number, if any


_PLAIN = re.compile(r"^[0-9][0-9.,]*$")


def _strip_marks(text: str) -> tuple[str, str | None, bool]:
    """(the bare number, the currency it names, whether it is negative)."""
    if _PLAIN.match(text):  # most cells: nothing to strip
        return text, None, False
    raw = text.strip()
    negative = False
    if raw.startswith("(") and raw.endswith(")"):  # accounting: (1,234.50)
        raw, negative = raw[1:-1].strip(), True
    if raw[:1] in "-−":
        raw, negative = raw[1:].strip(), not negative
    match = _MARK_RE.match(raw)
    currency = None
    if match:
        lead, trail = match.group("lead"), match.group("trail")
        for mark in (lead, trail):
            if mark:
                currency = _CURRENCY_MARKS.get(mark.lower()) or currency
        raw = match.group("number")
    if raw[:1] in "-−":  # "kr -100"
        raw, negative = raw[1:].strip(), not negative
    return raw.translate(_GROUP_MARKS), currency, negative


def number_evidence(text: str) -> str | None:
    """What one value shows about its column's style: DOT, COMMA, or None when it could be
    either ("12.500", "1,250", "12500")."""
    bare, _currency, _negative = _strip_marks(text)
    has_dot, has_comma = "." in bare, "," in bare
    if has_dot and has_comma:
        return DOT if bare.rfind(".") > bare.rfind(",") else COMMA
    if not (has_dot or has_comma):
        return None
    mark = "." if has_dot else ","
    if bare.count(mark) > 1:  # "1.234.567": grouping, so the other mark is the decimal
        return COMMA if mark == "." else DOT
    decimals = len(bare) - bare.index(mark) - 1
    if decimals == 3:  # "12.500" or "1,250": either reading holds
        return None
    return DOT if mark == "." else COMMA


def parse_number(text: str, style: str) -> Amount:
    """Read an amount in the column's `style`; raises ValueError when it is not a number
    written that way ("12,5,0", "1.23.4", "abc")."""
    if _UNGROUPED[style].match(text):  # most cells: "12500" or "12500.50" (DOT)
        return Amount(Decimal(text.replace(",", ".")), None)
    bare, currency, negative = _strip_marks(text)
    if not bare:
        raise ValueError("empty")
    decimal_mark, group_mark = (".", ",") if style == DOT else (",", ".")
    whole, _, fraction = bare.partition(decimal_mark)
    if decimal_mark in fraction or group_mark in fraction:
        raise ValueError("not a number")
    if group_mark in whole:
        if not _GROUPED[group_mark].match(whole):
            raise ValueError("bad grouping")
        whole = whole.replace(group_mark, "")
    if not whole and not fraction:
        raise ValueError("not a number")
    if not _DIGITS.match(whole or "0") or (fraction and not _DIGITS.match(fraction)):
        raise ValueError("not a number")
    try:
        value = Decimal(f"{whole or '0'}.{fraction or '0'}")
    except InvalidOperation as error:  # pragma: no cover - the digits were checked
        raise ValueError("not a number") from error
    return Amount(-value if negative else value, currency)


@dataclass
class NumberEvidence:
    """What a column's values show about its number style."""

    dot: int = 0
    comma: int = 0

    def add(self, text: str) -> None:
        seen = number_evidence(text)
        if seen == DOT:
            self.dot += 1
        elif seen == COMMA:
            self.comma += 1


@dataclass(frozen=True)
class Decision:
    """A column's reading and whether the values proved it (False: a default was taken,
    because no value could tell, or the values disagreed)."""

    value: str
    proven: bool


def decide_number_style(evidence: NumberEvidence, *, default: str) -> Decision:
    """The style most of the column's telling values show; `default` (from the file: a
    semicolon-separated file comes from a decimal-comma Excel) when none tells."""
    if evidence.dot and not evidence.comma:
        return Decision(DOT, True)
    if evidence.comma and not evidence.dot:
        return Decision(COMMA, True)
    if evidence.dot or evidence.comma:
        return Decision(DOT if evidence.dot >= evidence.comma else COMMA, False)
    return Decision(default, False)


# --- dates -----------------------------------------------------------------------------------

DAY_FIRST = "dmy"  # 31.12.2026, 31-12-2026, 31/12/2026
MONTH_FIRST = "mdy"  # 12/31/2026 (US)
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)
# A column whose dates are all written year first (ISO, 2026-12-31): nothing to decide.
YEAR_FIRST = "ymd"

_TIME = (
    r"(?:[T ,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d{1,9})?)?"
    r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?\s*(?P<zone>Z|UTC|[+-]\d{2}:?\d{2})?)?"
)
_ISO_RE = re.compile(rf"^(?P<year>\d{{4}})[-/.](?P<a>\d{{1,2}})[-/.](?P<b>\d{{1,2}}){_TIME}$")
_LOCAL_RE = re.compile(
    rf"^(?P<a>\d{{1,2}})(?P<sep>[./-])(?P<b>\d{{1,2}})(?P=sep)(?P<year>\d{{4}}|\d{{2}}){_TIME}$"
)


@dataclass
class DateEvidence:
    """What a column's values show about the order of day and month: counts of values that
    prove day first (`13.01.2026`) or month first (`01/13/2026`), and the separator of the
    undecided ones (the default differs: dots and dashes are day first, slashes US-style)."""

    day_first: int = 0
    month_first: int = 0
    undecided_separators: dict[str, int] = field(default_factory=dict)
    local: int = 0  # values written day-and-month first, the ones that need a decision

    def add(self, text: str) -> None:
        match = _LOCAL_RE.match(text.strip())
        if not match:
            return
        self.local += 1
        a, b = int(match.group("a")), int(match.group("b"))
        if a > 12 >= b:
            self.day_first += 1
        elif b > 12 >= a:
            self.month_first += 1
        elif a != b:
            sep = match.group("sep")
            self.undecided_separators[sep] = self.undecided_separators.get(sep, 0) + 1


def decide_date_order(evidence: DateEvidence) -> Decision:
    """Day or month first for a whole column: what its values prove; when they prove nothing
    (or disagree), day first unless the undecided values are mostly written with slashes,
    the US way. A column without such values (all ISO) needs no decision: YEAR_FIRST."""
    if not evidence.local:
        return Decision(YEAR_FIRST, True)
    if evidence.day_first and not evidence.month_first:
        return Decision(DAY_FIRST, True)
    if evidence.month_first and not evidence.day_first:
        return Decision(MONTH_FIRST, True)
    if evidence.day_first or evidence.month_first:
        best = DAY_FIRST if evidence.day_first >= evidence.month_first else MONTH_FIRST
        return Decision(best, False)
    separators = evidence.undecided_separators
    slashes = separators.get("/", 0)
    others = sum(separators.values()) - slashes
    return Decision(MONTH_FIRST if slashes > others else DAY_FIRST, False)


def _year(text: str) -> int:
    year = int(text)
    return 2000 + year if len(text) == 2 else year


def _clock(match: re.Match) -> tuple[time | None, timezone | None]:
    if match.group("hour") is None:
        return None, None
    hour, minute = int(match.group("hour")), int(match.group("minute"))
    second = int(match.group("second") or 0)
    ampm = (match.group("ampm") or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("bad hour")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    zone = None
    raw_zone = match.group("zone")
    if raw_zone in ("Z", "UTC"):
        zone = UTC
    elif raw_zone:
        sign = -1 if raw_zone[0] == "-" else 1
        digits = raw_zone[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return time(hour, minute, second), zone


def parse_date(text: str, order: str) -> date | datetime:
    """A date (or, with a time of day, a datetime: naive unless the text names a zone) read
    with the column's day/month `order`. Accepts ISO (`2026-12-31`, `2026-12-31 14:30`,
    `2026-12-31T14:30:00Z`), `31-12-2026`, `31.12.2026`, `31/12/2026` and `12/31/2026`
    (which of the last two, `order` says), two-digit years as 20xx. Raises ValueError."""
    raw = text.strip()
    if len(raw) >= 10 and raw[4] == "-" and raw[7] == "-":
        # ISO, the export format of HubSpot, Pipedrive and ours: read in C.
        try:
            if len(raw) == 10:
                return date.fromisoformat(raw)
            value = datetime.fromisoformat(raw.replace("UTC", "Z").replace(" Z", "Z"))
            return value.replace(microsecond=0)
        except ValueError:
            pass  # a form fromisoformat does not take: the patterns below
    match = _ISO_RE.match(raw)
    if match:
        year, month, day = int(match.group("year")), int(match.group("a")), int(match.group("b"))
    else:
        match = _LOCAL_RE.match(raw)
        if not match:
            raise ValueError("not a date")
        a, b = int(match.group("a")), int(match.group("b"))
        day, month = (a, b) if order == DAY_FIRST else (b, a)
        year = _year(match.group("year"))
    day_value = date(year, month, day)  # ValueError for 31.02.
    clock, zone = _clock(match)
    if clock is None:
        return day_value
    return datetime.combine(day_value, clock, tzinfo=zone)
