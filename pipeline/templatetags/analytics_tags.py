"""Formatting for the analytics pages: ratios as whole percentages, days with one decimal,
in the active language (crm/web/formats.py)."""

from __future__ import annotations

from django import template

from crm.web.formats import format_number, format_percent

register = template.Library()


@register.filter
def pct(ratio) -> str:
    """0.4217 -> '42%' (en-gb), '42 %' (da, de, nb, sv); None -> '–'."""
    if ratio is None:
        return "–"
    return format_percent(ratio)


@register.filter
def days(value) -> str:
    """12.345 -> '12.3' (en-gb), '12,3' (da); None -> '–'."""
    if value is None:
        return "–"
    return format_number(value, 1)
