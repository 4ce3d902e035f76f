"""From a file's rows to typed records: the columns' profile, their reading, and each row.

1. `profile_columns(table)` reads the file once and describes every column: how many cells
   are filled, a few samples, what its values show about number style and date order, and
   its distinct values (up to `MAX_DISTINCT`, for mapping stage and owner names). It is
   stored with the upload, so later steps need not read the file for it again.
2. `column_readings(profiles, ...)` decides, once per column, the number style and the date
   order (`crm.importing.values`), honouring what the user chose instead.
3. `RowReader(kind, headers, mapping, readings).read(number, cells)` turns one row into a
   dict of typed values for the fields the columns are mapped to, and the problems found,
   by row and column: an error leaves the row out, a warning drops only that value.

Pure: no database. Text is kept exactly as written (æ, ø, å, ß), trimmed; a value that looks
like a formula stays text (it is written escaped on export); the apostrophe our own exports
put before such a value is taken off again, so an export imports back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext as _

from crm.importing import headers as h
from crm.importing.errors import ERROR, WARNING, Problem
from crm.importing.files import Table
from crm.importing.values import (
    COMMA,
    DATE_ORDERS,
    DOT,
    NUMBER_STYLES,
    DateEvidence,
    Decision,
    NumberEvidence,
    decide_date_order,
    decide_number_style,
    parse_date,
    parse_number,
)
from crm.matching import web_host_key

MAX_DISTINCT = 200
SAMPLES = 3
# What our exports put before a text that a spreadsheet would run as a formula
# (crm.web.exports.csv_safe); taken off on import.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# The largest deal value the database holds (14 digits, 2 of them decimals).
MAX_VALUE = Decimal("999999999999.99")

_MAYBE_NUMBER = re.compile(r"\d[.,]\d")
_MAYBE_DATE = re.compile(r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{2,4}")


# --- 1. the columns' profile ---------------------------------------------------------------


@dataclass
class ColumnProfile:
    header: str
    filled: int = 0
    samples: list[str] = field(default_factory=list)
    numbers: NumberEvidence = field(default_factory=NumberEvidence)
    dates: DateEvidence = field(default_factory=DateEvidence)
    distinct: dict[str, int] = field(default_factory=dict)
    too_many_distinct: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ColumnProfile:
        return cls(
            header=data["header"],
            filled=data["filled"],
            samples=data["samples"],
            numbers=NumberEvidence(**data["numbers"]),
            dates=DateEvidence(**data["dates"]),
            distinct=data["distinct"],
            too_many_distinct=data["too_many_distinct"],
        )


@dataclass
class FileProfile:
    rows: int
    columns: list[ColumnProfile]
    default_number_style: str

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "columns": [c.as_dict() for c in self.columns],
            "default_number_style": self.default_number_style,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FileProfile:
        return cls(
            rows=data["rows"],
            columns=[ColumnProfile.from_dict(c) for c in data["columns"]],
            default_number_style=data["default_number_style"],
        )


def display(cell) -> str:
    """A cell as text, the way the preview shows it."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ", timespec="minutes" if not cell.second else "seconds")
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def profile_columns(table: Table, *, max_rows: int) -> FileProfile:
    """Read the whole file once and describe its columns (see the module's docstring).
    ImportFileError (from reading) when it is broken further down, or has more than
    `max_rows` data rows."""
    from crm.importing.errors import ImportFileError

    columns = [ColumnProfile(header=name) for name in table.headers]
    rows = 0
    for _number, cells in table.rows():
        rows += 1
        if rows > max_rows:
            raise ImportFileError(
                _("The file has more than %(limit)s rows; split it into smaller files.")
                % {"limit": f"{max_rows:,}"}
            )
        for column, cell in zip(columns, cells, strict=False):
            if cell is None:
                continue
            if isinstance(cell, str):
                text = cell.strip()
                if not text:
                    continue
                if _MAYBE_NUMBER.search(text):
                    column.numbers.add(text)
                if _MAYBE_DATE.match(text):
                    column.dates.add(text)
            else:
                text = display(cell)
            column.filled += 1
            if len(column.samples) < SAMPLES:
                column.samples.append(text[:80])
            if not column.too_many_distinct:
                key = text[:100]
                if key in column.distinct:
                    column.distinct[key] += 1
                elif len(column.distinct) < MAX_DISTINCT:
                    column.distinct[key] = 1
                else:
                    column.too_many_distinct = True
                    column.distinct = {}
    default_style = COMMA if table.delimiter == ";" else DOT
    return FileProfile(rows=rows, columns=columns, default_number_style=default_style)


# --- 2. one reading per column ---------------------------------------------------------------

AUTO = ""


@dataclass(frozen=True)
class ColumnReading:
    """How a column's cells are read: its number style and date order, each with whether
    the values proved it."""

    number: Decision
    date: Decision


def column_readings(
    profile: FileProfile, *, number_styles: dict[int, str], date_orders: dict[int, str]
) -> list[ColumnReading]:
    """One reading per column: the user's choice (`number_styles`, `date_orders`, by column
    index) where they made one, otherwise what the values show."""
    readings = []
    for index, column in enumerate(profile.columns):
        chosen_style = number_styles.get(index, AUTO)
        chosen_order = date_orders.get(index, AUTO)
        number = (
            Decision(chosen_style, True)
            if chosen_style in NUMBER_STYLES
            else decide_number_style(column.numbers, default=profile.default_number_style)
        )
        day = (
            Decision(chosen_order, True)
            if chosen_order in DATE_ORDERS
            else decide_date_order(column.dates)
        )
        readings.append(ColumnReading(number=number, date=day))
    return readings


# --- 3. one row ----------------------------------------------------------------------------

STATUS_WORDS = {
    "open": "open",
    "opened": "open",
    "active": "open",
    "åben": "open",
    "åpen": "open",
    "öppen": "open",
    "offen": "open",
    "won": "won",
    "closed won": "won",
    "closedwon": "won",
    "vundet": "won",
    "vunnet": "won",
    "vunnen": "won",
    "gewonnen": "won",
    "lost": "lost",
    "closed lost": "lost",
    "closedlost": "lost",
    "tabt": "lost",
    "tapt": "lost",
    "förlorad": "lost",
    "verloren": "lost",
}
DELETED_WORDS = {"deleted", "slettet", "raderad", "gelöscht"}
# A pause needs a resume date and a reason, which no export carries: imported open.
PAUSED_WORDS = {"paused", "on hold", "pauset", "pausad", "pausiert"}
CURRENCY_SIGNS = {"€": "EUR", "$": "USD", "£": "GBP"}

_email = EmailValidator()
_url = URLValidator(schemes=["http", "https"])
_DOMAIN_RE = re.compile(r"^(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")
# Most addresses in a file are plain ASCII like this; anything else goes to Django's validator.
_PLAIN_EMAIL = re.compile(r"^[a-z0-9._%+-]{1,64}@(?:[a-z0-9-]{1,63}\.)+[a-z]{2,24}$", re.IGNORECASE)


def unescape(text: str) -> str:
    """Take off the apostrophe our exports put before a formula-looking text."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    field: h.Field
    reading: ColumnReading


class RowReader:
    """Reads rows of one file with one mapping (see the module's docstring).

    `currencies` are the codes a deal may have; `country_code` turns a country's name or
    code into its ISO code (or "" when it knows none)."""

    def __init__(
        self,
        *,
        kind: str,
        headers: list[str],
        mapping: list[str],
        readings: list[ColumnReading],
        currencies: Iterable[str],
        country_code: Callable[[str], str],
    ):
        self.kind = kind
        self.currencies = frozenset(currencies)
        self.country_code = country_code
        fields = h.FIELD_BY_KEY[kind]
        self.columns = [
            _Column(index, headers[index], fields[key], readings[index])
            for index, key in enumerate(mapping)
            if key in fields
        ]
        self.mapped = {c.field.key for c in self.columns}
        text_types = (h.TEXT, h.PHONE)
        self._plan = [
            (
                c.index,
                c.header,
                c.field.key,
                None if c.field.type in text_types else c.field.type,
                c.field.max_length if c.field.type in (*text_types, h.EMAIL) else 0,
                c.field.joins,
                c,
            )
            for c in self.columns
        ]
        self._readers = {
            h.TEXT: self._text,
            h.PHONE: self._text,
            h.EMAIL: self._email,
            h.NUMBER: self._number,
            h.CURRENCY: self._currency,
            h.DATE: self._date,
            h.DATETIME: self._datetime,
            h.COUNTRY: self._country,
            h.DOMAIN: self._domain,
            h.WEBSITE: self._website,
            h.STATUS: self._status,
        }

    def read(self, number: int, cells: list) -> tuple[dict, list[Problem]]:
        values: dict = {}
        problems: list[Problem] = []
        # The hot loop of an import (every cell of every row): plain text, the commonest
        # case, is read inline; everything else by its type's reader.
        for index, header, key, kind, limit, joins, column in self._plan:
            cell = cells[index]
            if cell is None:
                continue
            if kind is None and isinstance(cell, str):
                value = cell.strip()
                if not value:
                    continue
                if value[0] == "'" and len(value) > 1 and value[1] in FORMULA_START:
                    value = value[1:]
            else:
                if isinstance(cell, str) and not cell.strip():
                    continue
                try:
                    value = self._readers[column.field.type](cell, column, values)
                except _Bad as bad:
                    problems.append(Problem(number, header, bad.message, bad.severity))
                    continue
                if value is None:
                    continue
            if joins and key in values:
                value = f"{values[key]}, {value}"
            if limit and len(value) > limit:
                message = _("Longer than %(limit)s characters.") % {"limit": limit}
                problems.append(Problem(number, header, message))
                continue
            values[key] = value
        problems += self._check_row(number, values)
        return values, problems

    # -- whole-row rules ----------------------------------------------------------------------

    def _header_of(self, key: str) -> str:
        return next((c.header for c in self.columns if c.field.key == key), "")

    def _check_row(self, number: int, values: dict) -> list[Problem]:
        problems = []
        if self.kind == h.CONTACTS:
            parts = [values.pop("first_name", ""), values.pop("last_name", "")]
            name = values.get("name") or " ".join(p for p in parts if p)
            if not name and values.get("email"):
                name = values["email"].split("@")[0]
            if name:
                values["name"] = name[:200]
            else:
                problems.append(Problem(number, "", _("The contact has no name.")))
            if not values.get("company_name") and not values.get("company_domain"):
                column = self._header_of("company_name")
                problems.append(Problem(number, column, _("A contact needs a company.")))
        else:
            required = "title" if self.kind == h.DEALS else "name"
            if not values.get(required):
                column = self._header_of(required)
                label = h.FIELD_BY_KEY[self.kind][required].label
                message = _("%(field)s is empty.") % {"field": label}
                problems.append(Problem(number, column, message))
        if self.kind == h.DEALS:
            if values.pop("status_note", None):
                problems.append(
                    Problem(
                        number,
                        self._header_of("status"),
                        _("Paused deals are imported open; pause it again on its page."),
                        WARNING,
                    )
                )
            if "currency" not in values and values.get("value_currency"):
                values["currency"] = values["value_currency"]
            values.pop("value_currency", None)
            if values.get("contact_email") and not values.get("contact_name"):
                values["contact_name"] = values["contact_email"].split("@")[0]
        return problems

    # -- cells --------------------------------------------------------------------------------

    @staticmethod
    def _text(cell, column: _Column, values: dict) -> str:
        if isinstance(cell, str):
            return unescape(cell.strip())
        return display(cell)

    def _email(self, cell, column: _Column, values: dict) -> str:
        text = self._text(cell, column, values)
        if _PLAIN_EMAIL.match(text) and ".." not in text:
            return text
        try:
            _email(text)
        except ValidationError as error:
            # The e-mail is the contact's key in a contacts file; elsewhere only a detail.
            severity = ERROR if (self.kind, column.field.key) == (h.CONTACTS, "email") else WARNING
            message = _("“%(value)s” is not an e-mail address.") % {"value": text}
            raise _Bad(message, severity) from error
        return text

    def _number(self, cell, column: _Column, values: dict) -> Decimal:
        if isinstance(cell, bool):
            raise _Bad(_("Not a number."))
        if isinstance(cell, int | float):
            value = Decimal(str(cell))
        else:
            text = cell.strip()
            try:
                amount = parse_number(text, column.reading.number.value)
            except ValueError as error:
                example = "12,500.50" if column.reading.number.value == DOT else "12.500,50"
                raise _Bad(
                    _("“%(value)s” is not a number written like %(example)s.")
                    % {"value": text, "example": example}
                ) from error
            value = amount.value
            if amount.currency:
                values["value_currency"] = amount.currency
        if value < 0:
            raise _Bad(_("A value cannot be negative."))
        value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if value > MAX_VALUE:
            raise _Bad(_("Too large a value."))
        return value

    def _currency(self, cell, column: _Column, values: dict) -> str:
        text = self._text(cell, column, values)
        code = CURRENCY_SIGNS.get(text, text.upper())
        if code not in self.currencies:
            raise _Bad(
                _("Currency “%(value)s” is not one of %(codes)s.")
                % {"value": text, "codes": ", ".join(sorted(self.currencies))}
            )
        return code

    def _date_or_datetime(self, cell, column: _Column) -> date | datetime:
        if isinstance(cell, datetime | date):
            return cell
        if isinstance(cell, time) or not isinstance(cell, str):
            raise _Bad(_("Not a date."))
        text = cell.strip()
        try:
            return parse_date(text, column.reading.date.value)
        except ValueError as error:
            raise _Bad(_("“%(value)s” is not a date we can read.") % {"value": text}) from error

    def _date(self, cell, column: _Column, values: dict) -> date:
        value = self._date_or_datetime(cell, column)
        return value.date() if isinstance(value, datetime) else value

    def _datetime(self, cell, column: _Column, values: dict) -> datetime:
        value = self._date_or_datetime(cell, column)
        if not isinstance(value, datetime):
            value = datetime.combine(value, time())
        return value

    def _country(self, cell, column: _Column, values: dict) -> str | None:
        text = self._text(cell, column, values)
        code = self.country_code(text)
        if not code:
            raise _Bad(
                _("Country “%(value)s” is not known; left empty.") % {"value": text}, WARNING
            )
        return code

    def _domain(self, cell, column: _Column, values: dict) -> str | None:
        text = self._text(cell, column, values)
        lowered = text.lower()
        if _DOMAIN_RE.match(lowered):  # most cells: a plain domain already
            return lowered[4:] if lowered.startswith("www.") else lowered
        host = web_host_key(text)
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_host = ""
        if not _DOMAIN_RE.match(ascii_host):
            raise _Bad(_("“%(value)s” is not a web domain; left empty.") % {"value": text}, WARNING)
        return host

    def _website(self, cell, column: _Column, values: dict) -> str | None:
        text = self._text(cell, column, values)
        address = text if "://" in text else f"https://{text}"
        try:
            _url(address)
        except ValidationError as error:
            raise _Bad(
                _("“%(value)s” is not a web address; left empty.") % {"value": text}, WARNING
            ) from error
        return address

    def _status(self, cell, column: _Column, values: dict) -> str:
        text = self._text(cell, column, values)
        word = " ".join(text.casefold().replace("_", " ").split())
        if word in DELETED_WORDS:
            raise _Bad(_("Deleted in the system it came from; left out."))
        if word in PAUSED_WORDS:
            values["status_note"] = "paused"
            return "open"
        status = STATUS_WORDS.get(word)
        if status is None:
            raise _Bad(_("Status “%(value)s” is not open, won or lost.") % {"value": text})
        return status


class _Bad(Exception):
    def __init__(self, message: str, severity: str = ERROR):
        super().__init__(message)
        self.message = message
        self.severity = severity
