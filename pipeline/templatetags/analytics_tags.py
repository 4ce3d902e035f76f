"""Formatting for the analytics pages: ratios as whole percentages, days with one decimal."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def pct(ratio) -> str:
    """0.4217 -> '42 %'; None -> '–'."""
    if ratio is None:
        return "–"
    return f"{number_format(round(float(ratio) * 100), use_l10n=True)} %"


@register.filter
def days(value) -> str:
    """12.345 -> '12.3'; None -> '–'."""
    if value is None:
        return "–"
    return number_format(round(float(value), 1), decimal_pos=1, use_l10n=True)
