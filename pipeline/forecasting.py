"""Forecast periods: which week, month or quarter a date falls in, and their labels.
Weeks start on Monday (the organisation's week start)."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils.formats import date_format
from django.utils.translation import gettext as _

KINDS = ("week", "month", "quarter")
DEFAULT_COUNTS = {"week": 13, "month": 6, "quarter": 4}
MAX_COUNTS = {"week": 52, "month": 24, "quarter": 8}


def period_start(day: date, kind: str) -> date:
    if kind == "week":
        return day - timedelta(days=day.weekday())
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
        return _("W%(week)s %(year)s") % {
            "week": start.isocalendar().week,
            "year": start.isocalendar().year,
        }
    if kind == "month":
        return date_format(start, "M Y")
    return _("Q%(quarter)s %(year)s") % {"quarter": (start.month - 1) // 3 + 1, "year": start.year}


def monday(day: date) -> date:
    return period_start(day, "week")
