from __future__ import annotations

from django import template

from crm.organisation import reporting_currency
from crm.web.money import format_compact, format_money

register = template.Library()


@register.filter
def money(amount, currency: str = "") -> str:
    """`{{ deal.value|money:deal.currency }}`; without a currency, the reporting currency."""
    return format_money(amount, currency or reporting_currency())


@register.filter
def money_compact(amount) -> str:
    return format_compact(amount, reporting_currency())
