"""Template filters for what a person reads, in the active language (CLDR through Babel,
crm/web/formats.py). A builtin of the Django engine: no `{% load %}` needed.

    {{ deal.expected_close_date|ldate }}         31 Dec 2026 · 31. dec. 2026 · 31.12.2026
    {{ day|ldate:"short" }}                      31/12/2026 · 31.12.2026 · 2026-12-31
    {{ day|ldate:"MMMd" }}                       a CLDR skeleton: 31 Dec · 31. dec.
    {{ change.at|ldatetime }}                    31 Dec 2026, 14:05 (organisation's zone)
    {{ step.due_time|ltime }}                    14:05 · 14.05
    {{ count|lnumber }}  {{ rate|lnumber:1 }}    12,500 · 12.500 · 12 500
    {{ ratio|lpercent }}                         25% · 25 %

Machine formats (`|date:'c'`, `|date:'Y-m-d'` for `<input type=date>`) keep Django's `date`.
"""

from __future__ import annotations

from decimal import Decimal

from django import template

from crm.web import formats

register = template.Library()


@register.filter
def ldate(value, form: str = "medium") -> str:
    return formats.format_date(value, form)


@register.filter
def ldatetime(value, form: str = "medium") -> str:
    return formats.format_datetime(value, form)


@register.filter
def ltime(value) -> str:
    return formats.format_time(value)


@register.filter
def lnumber(value, decimals=None) -> str:
    return formats.format_number(value, None if decimals in (None, "") else int(decimals))


@register.filter
def lpercent(ratio, decimals=0) -> str:
    return formats.format_percent(ratio, int(decimals))


@register.filter
def lpoints(value, decimals=0) -> str:
    """A percentage already in points (a stage's probability, 0-100): 40 -> "40%" (en-gb),
    "40 %" (da, de, nb, sv)."""
    if value is None or value == "":
        return ""
    return formats.format_percent(Decimal(str(value)) / 100, int(decimals))
