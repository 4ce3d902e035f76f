"""Forecast periods: which week, month or quarter a date falls in, and their labels.
Weeks start on the organisation's week start (Monday or Sunday, an admin setting)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import DateField, Expression, ExpressionWrapper, F, Value
from django.db.models.functions import Cast, Trunc, TruncDate
from django.utils.translation import gettext as _

from crm.organisation import week_start
from crm.web.formats import format_date

KINDS = ("week", "month", "quarter")
DEFAULT_COUNTS = {"week": 13, "month": 6, "quarter": 4}
MAX_COUNTS = {"week": 52, "month": 24, "quarter": 8}


def period_start(day: date, kind: str, *, first_weekday: int | None = None) -> date:
    if kind == "week":
        first = week_start() if first_weekday is None else first_weekday
        return day - timedelta(days=(day.weekday() - first) % 7)
    if kind == "month":
        return day.replace(day=1)
    if kind == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(kind)


def period_add(start: date, kind: str, n: int) -> date:
    if kind == "week":
        return start + timedelta(weeks=n)
    months = n * (3 if kind == "quarter" else 1)
    index = start.year * 12 + (start.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def periods(start: date, kind: str, count: int) -> list[date]:
    first = period_start(start, kind)
    return [period_add(first, kind, i) for i in range(count)]


def period_label(start: date, kind: str) -> str:
    if kind == "week":
        # The ISO number of the week's middle: a Sunday-start week is named after the
        # Monday-to-Saturday it mostly covers.
        middle = (start + timedelta(days=3)).isocalendar()
        return _("W%(week)s %(year)s") % {"week": middle.week, "year": middle.year}
    if kind == "month":
        return format_date(start, "yMMM")
    return _("Q%(quarter)s %(year)s") % {"quarter": (start.month - 1) // 3 + 1, "year": start.year}


def week_of(day: date) -> date:
    """The first day of the organisation's week containing `day`."""
    return period_start(day, "week")


# The old name: weeks used to start on Monday only. Same function; it honours the setting.
monday = week_of


def period_trunc(expression: str | Expression, kind: str, *, tzinfo=None) -> Expression:
    """SQL for `period_start(expression, kind)`: the database truncates weeks to Monday, so a
    Sunday-start week shifts the date forward a day, truncates, and shifts back. A datetime
    is first cut to its local date (with `tzinfo`), so a shift never crosses a DST change."""
    first = week_start()
    if kind != "week" or first == 0:
        return Trunc(expression, kind, tzinfo=tzinfo)
    if isinstance(expression, str):
        expression = F(expression)
    if tzinfo is not None:
        expression = TruncDate(expression, tzinfo=tzinfo)
    shift = timedelta(days=(7 - first) % 7)
    shifted = Trunc(_date_plus(expression, shift), "week", output_field=DateField())
    return _date_plus(shifted, -shift)


def _date_plus(expression: Expression, delta: timedelta) -> Expression:
    # PostgreSQL answers date + interval with a timestamp: cast back to a date.
    return Cast(ExpressionWrapper(expression + Value(delta), output_field=DateField()), DateField())
