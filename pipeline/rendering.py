"""Cards are the hot path of the board: they are rendered by Jinja2, all cards of a list in a
single render (see PERFORMANCE.md for what Django templates cost per card)."""

from __future__ import annotations

from django.template.loader import get_template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe

from pipeline.money import format_money


def _short_date(value) -> str:
    return date_format(value, "j M")


def cards_html(request, cards) -> SafeString:
    template = get_template("pipeline/cards.jinja", using="jinja2")
    html = template.render(
        {
            "cards": cards,
            "today": timezone.localdate(),
            "now": timezone.now(),
            "money": format_money,
            "short_date": _short_date,
        },
        request=request,
    )
    # Jinja2 runs with autoescape on: every value in `html` is already escaped.
    return mark_safe(html)


def attach_cards_html(request, columns) -> None:
    for column in columns:
        column.cards_html = cards_html(request, column.cards)
