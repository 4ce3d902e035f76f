"""The board's markup, its hot path: the page's toolbar and columns, the column headers and the
cards, all by Jinja2 (see docs/performance.md for what Django templates cost per node). Cards
are rendered all of a list in one render, with everything the cards share computed once; a card
or header already rendered with the same content is taken from a per-process memo keyed by
that content (docs/decisions.md)."""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import astuple
from urllib.parse import quote

from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crm.organisation import reporting_currency
from crm.web.formats import day_month_formatter
from crm.web.links import kept_reverse
from crm.web.money import format_compact, money_formatter
from pipeline.selectors.board import Card


def _deals_path() -> str:
    """'/deals/' - the prefix of every deal URL (deal-detail, deal-move, deal-won, deal-lost),
    once per render instead of four times per card (reversed once per process)."""
    return kept_reverse("deal-detail", (0,)).removesuffix("0/")


def activities_path() -> str:
    """'/activities/' - the prefix of the next step's edit and complete URLs."""
    return kept_reverse("activity-update", (0,)).removesuffix("0/edit/")


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
    }


class RenderedMemo:
    """Rendered HTML by everything it shows (a content key): a key that is not found is
    rendered and kept, the least recently used key goes when `size` is reached. Nothing is
    ever cleared: a change to what a card shows is a new key, so every process and node may
    keep its own (docs/decisions.md)."""

    def __init__(self, size: int):
        self.size = size
        self._html: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: list[Hashable]) -> list[str | None]:
        with self._lock:
            found = []
            for key in keys:
                html = self._html.get(key)
                if html is not None:
                    self._html.move_to_end(key)
                found.append(html)
            return found

    def put_many(self, items: list[tuple[Hashable, str]]) -> None:
        with self._lock:
            for key, html in items:
                self._html[key] = html
            while len(self._html) > self.size:
                self._html.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._html.clear()


# A card's HTML is about 1 KB and its key about as much: 5,000 cards are about 10 MB per
# process, the first pages of every column of many teams and filters.
CARD_MEMO = RenderedMemo(5000)

# What a card's HTML depends on besides its language and time zone: every value of `Card`
# but those it only uses to decide its `state` (which is in the key) or its place; a value
# added to `Card` is in the key unless named here (tests/pipeline/test_rendering.py checks
# the template's reads against the key).
_NOT_SHOWN = {
    "status",
    "stage_id",
    "position",
    "last_movement_at",
    "rots_at",
    "stage_entered_at",
    "rot_days",
}
CARD_KEY_FIELDS = tuple(name for name in Card.__slots__ if name not in _NOT_SHOWN)
_CARD_KEY = operator.attrgetter(*CARD_KEY_FIELDS)


def cards_html(request, cards, *, shared: dict | None = None) -> SafeString:
    """The cards' HTML; `shared` (from `_cards_shared`) when the request renders several
    lists of cards (the board's columns). A card already rendered with the same content,
    language and time zone comes from `CARD_MEMO`; the others are rendered in one go."""
    shared = shared or _cards_shared()
    where = (get_language(), timezone.get_current_timezone_name(), shared["deals_path"])
    keys = [(where, _CARD_KEY(card)) for card in cards]
    found = CARD_MEMO.get_many(keys)
    missing = [i for i, html in enumerate(found) if html is None]
    if missing:
        template = get_template("pipeline/cards.jinja", using="jinja2")
        context = {**shared, "cards": [cards[i] for i in missing]}
        # One <article> per card, and "</article>" cannot occur inside one: Jinja2 runs with
        # autoescape on, every value is escaped.
        rendered = template.render(context, request=request).split("</article>")[:-1]
        for i, html in zip(missing, rendered, strict=True):
            found[i] = f"{html}</article>"
        CARD_MEMO.put_many([(keys[i], found[i]) for i in missing])
    return mark_safe("".join(found))


def filter_suffix(filters) -> SafeString:
    """The board's filters to carry on a link that already has a query string
    ("&amp;owner=me&amp;tier=A"), each value URL-quoted as Django's `urlencode` filter does."""
    pairs = filters.as_query()
    # quote() leaves only letters, digits, "_.-~/" and %-escapes: nothing HTML gives meaning.
    return mark_safe("".join(f"&amp;{key}={quote(value, safe='/')}" for key, value in pairs))


def board_part_html(request, part: str, context: dict) -> SafeString:
    """The board page's own markup by Jinja (templates/jinja2/pipeline/): `part` "page" (the
    toolbar and the board), "board" (#board, for a filter change) or "cards" (a column's
    cards with its "load more" and empty note; `context["column"]`). `context` has the
    pipeline and the filters, and what the part shows (the page: the switcher's `pipelines`,
    the `owner_choices` and the `attention_count` too)."""
    context = {
        **context,
        "htmx": bool(getattr(request, "htmx", False)),
        "filter_suffix": filter_suffix(context["filters"]),
    }
    if part == "page":
        board = _render(request, "pipeline/board.jinja", {**context, "part": "board"})
        return mark_safe(f"{_toolbar_html(request, context)}\n{board}")
    return mark_safe(_render(request, "pipeline/board.jinja", {**context, "part": part}))


def _render(request, name: str, context: dict) -> str:
    # Jinja2 runs with autoescape on: every value in the markup is already escaped.
    return get_template(name, using="jinja2").render(context, request=request)


# The toolbar by everything it shows: a few per pipeline, language and filters. A toolbar is
# about 3 KB (a team of ten): 1,000 are about 4 MB per process.
TOOLBAR_MEMO = RenderedMemo(1000)

# What the toolbar's templates (board_toolbar.jinja, board_port_menu.jinja) read: the key
# holds each (tests/pipeline/test_rendering.py checks the templates against this list).
TOOLBAR_READS = frozenset(
    {"pipeline", "pipelines", "filters", "filter_suffix", "owner_choices", "attention_count"}
)


def _toolbar_html(request, context: dict) -> str:
    """The toolbar, kept by what it shows (`TOOLBAR_MEMO`): the pipeline, the switcher's
    pipelines and teams by name, the filters, the owner filter's people, the count of deals
    needing attention, in a language and under a URL prefix."""
    key = (
        get_language(),
        get_script_prefix(),
        get_urlconf(),
        context["pipeline"].pk,
        tuple((p.pk, p.name, p.team.name) for p in context["pipelines"]),
        context["filters"],
        tuple((value, str(label)) for value, label in context["owner_choices"]),
        context["attention_count"],
    )
    (html,) = TOOLBAR_MEMO.get_many([key])
    if html is None:
        shown = {name: context[name] for name in TOOLBAR_READS}
        html = _render(request, "pipeline/board_toolbar.jinja", shown)
        TOOLBAR_MEMO.put_many([(key, html)])
    return html


def attach_cards_html(request, columns) -> None:
    shared = _cards_shared()
    for column in columns:
        column.cards_html = cards_html(request, column.cards, shared=shared)


# A column header per stage, language, time zone and figures: a board's worth per team.
HEADER_MEMO = RenderedMemo(2000)


def attach_headers_html(request, pipeline, columns, *, oob: bool = False) -> None:
    """Each column's header (name, count, totals, the "+"), by Jinja like the cards: the
    board draws one per stage on every page; a drop's answer sends them out of band (`oob`).
    A header already rendered with the same stage, figures and language is not rendered
    again (`HEADER_MEMO`)."""
    currency = reporting_currency()
    where = (get_language(), timezone.get_current_timezone_name(), pipeline.pk, oob, currency)
    keys = [
        (
            where,
            column.stage.pk,
            column.stage.name,
            column.stage.probability,
            astuple(column.totals),
        )
        for column in columns
    ]
    found = HEADER_MEMO.get_many(keys)
    if None in found:
        template = get_template("pipeline/column_headers.jinja", using="jinja2")
        shared = {"pipeline_id": pipeline.pk, "money": format_compact, "oob": oob}
        shared["currency"] = currency
        rendered = []
        for i, column in enumerate(columns):
            if found[i] is None:
                html = template.render({**shared, "column": column}, request=request)
                found[i] = f"\n{html}\n"
                rendered.append((keys[i], found[i]))
        HEADER_MEMO.put_many(rendered)
    for column, html in zip(columns, found, strict=True):
        # Jinja2 runs with autoescape on: every value in `html` is already escaped.
        column.header_html = mark_safe(html)
