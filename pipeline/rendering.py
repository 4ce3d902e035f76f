"""Cards are the hot path of the board: they are rendered by Jinja2, all cards of a list in a
single render, with everything shared by the cards computed once (see docs/performance.md for what
Django templates cost per card)."""

from __future__ import annotations

from collections.abc import Callable

from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from crm.organisation import reporting_currency
from crm.web.formats import day_month_formatter
from crm.web.money import format_compact, money_formatter


def _deals_path() -> str:
    """'/deals/' - the prefix of every deal URL (deal-detail, deal-move, deal-won, deal-lost),
    reversed once per render instead of four times per card."""
    return reverse("deal-detail", args=[0]).removesuffix("0/")


def activities_path() -> str:
    """'/activities/' - the prefix of the next step's edit and complete URLs."""
    return reverse("activity-update", args=[0]).removesuffix("0/edit/")


def _card_texts() -> dict[str, str]:
    """Texts with placeholders, translated once per render and filled in per card with
    Jinja's `format` (its newstyle gettext would fail on a placeholder left unfilled)."""
    return {
        "stale_why": _("No movement for %(days)s days; this stage allows %(allowed)s"),
        "flagged_since": _("flagged since %(date)s"),
        "overdue_since": _("Overdue since %(date)s"),
        "due": _("Due %(date)s"),
    }


def _once_per_value(format_value: Callable[..., str]) -> Callable[..., str]:
    """`format_value` remembering its answers for one request: a board's cards repeat the
    same amounts and dates many times over."""
    seen: dict[tuple, str] = {}

    def formatted(*args) -> str:
        text = seen.get(args)
        if text is None:
            text = seen[args] = format_value(*args)
        return text

    return formatted


def _cards_shared() -> dict:
    """What every card of a request shares: texts, paths, and the formatters (the language's
    amount and date shapes looked up once, CLDR: "12.500 kr.", "3. nov." in Danish; each
    distinct amount and date formatted once for all the request's columns)."""
    return {
        "money": _once_per_value(money_formatter()),
        "short": _once_per_value(day_month_formatter()),
        "t": _card_texts(),
        "deals_path": _deals_path(),
        "activities_path": activities_path(),
    }


def cards_html(request, cards, *, shared: dict | None = None) -> SafeString:
    """The cards' HTML; `shared` (from `_cards_shared`) when the request renders several
    lists of cards (the board's columns)."""
    template = get_template("pipeline/cards.jinja", using="jinja2")
    html = template.render({**(shared or _cards_shared()), "cards": cards}, request=request)
    # Jinja2 runs with autoescape on: every value in `html` is already escaped.
    return mark_safe(html)


def attach_cards_html(request, columns) -> None:
    shared = _cards_shared()
    for column in columns:
        column.cards_html = cards_html(request, column.cards, shared=shared)


def attach_headers_html(request, pipeline, columns, *, oob: bool = False) -> None:
    """Each column's header (name, count, totals, the "+"), by Jinja like the cards: the
    board draws one per stage on every page; a drop's answer sends them out of band (`oob`)."""
    template = get_template("pipeline/column_headers.jinja", using="jinja2")
    shared = {"pipeline_id": pipeline.pk, "money": format_compact, "oob": oob}
    shared["currency"] = reporting_currency()
    for column in columns:
        html = template.render({**shared, "column": column}, request=request)
        # Jinja2 runs with autoescape on: every value in `html` is already escaped.
        column.header_html = mark_safe(f"\n{html}\n")
