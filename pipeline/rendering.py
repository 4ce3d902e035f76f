"""Cards are the hot path of the board: they are rendered by Jinja2, all cards of a list in a
single render, with everything shared by the cards computed once (see PERFORMANCE.md for what
Django templates cost per card)."""

from __future__ import annotations

from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe

from pipeline.money import format_money


def _deals_path() -> str:
    """'/deals/' - the prefix of every deal URL (deal-detail, deal-move, deal-won, deal-lost),
    reversed once per render instead of four times per card."""
    return reverse("deal-detail", args=[0]).removesuffix("0/")


def cards_html(request, cards) -> SafeString:
    template = get_template("pipeline/cards.jinja", using="jinja2")
    html = template.render(
        {
            "cards": cards,
            "today": timezone.localdate(),
            "now": timezone.now(),
            "money": format_money,
            "months": {number: str(name).title() for number, name in MONTHS_3.items()},
            "deals_path": _deals_path(),
        },
        request=request,
    )
    # Jinja2 runs with autoescape on: every value in `html` is already escaped.
    return mark_safe(html)


def attach_cards_html(request, columns) -> None:
    for column in columns:
        column.cards_html = cards_html(request, column.cards)
