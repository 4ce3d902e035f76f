"""What the board's views share: the filters a request carries, the answer that refreshes
changed columns (cards and totals) after an add or a close, and the smaller one of a drop."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django_htmx.http import reswap, retarget

from pipeline import selectors
from pipeline.forms.board import BoardFilterForm
from pipeline.rendering import attach_headers_html, board_part_html, cards_html
from pipeline.selectors.board import BoardFilters, Card, Column, decide_card_states


def all_valid(*forms) -> bool:
    """Validate every form (not stopping at the first invalid one), so all errors show."""
    return all([form.is_valid() for form in forms])


def board_filters(request, pipeline, data) -> BoardFilters | None:
    form = BoardFilterForm(data, pipeline=pipeline)
    return form.filters() if form.is_valid() else None


def columns_response(
    request, *, pipeline, stages, filters, cards_for=(), main=None, loaded=0, toast="", kept=None
):
    """One htmx response for the changed columns of a board: the header (count and totals) of
    every stage in `stages`, and the cards of those in `cards_for`. The cards of `main` are the
    primary swap (the column the user dropped into); everything else goes out of band.
    `kept`: the stages' kept totals when the caller has them (a move)."""
    totals = selectors.stage_totals(
        pipeline=pipeline, stages=stages, user=request.user, filters=filters, kept=kept
    )
    columns = []
    for stage in stages:
        stage.pipeline = pipeline
        column = Column(stage=stage, totals=totals[stage.pk])
        if stage.pk in cards_for:
            limit = max(settings.BOARD_PAGE_SIZE, loaded if stage.pk == main else 0)
            column.cards, column.has_more = selectors.column_cards(
                stage=stage, user=request.user, filters=filters, limit=limit
            )
            column.cards_html = cards_html(request, column.cards)
            part = {"pipeline": pipeline, "column": column, "filters": filters}
            column.cards_part_html = board_part_html(request, "cards", part)
        columns.append(column)
    attach_headers_html(request, pipeline, columns, oob=True)
    context = {
        "pipeline": pipeline,
        "columns": columns,
        "cards_for": cards_for,
        "main": main,
        "toast": toast,
    }
    return render(request, "pipeline/columns_response.html", context)


def card_moved_response(request, *, pipeline, deal, stages, filters, kept=None):
    """The answer to a drop that landed where the user put it: only what changed. The moved
    card, rendered anew (its version, days in the stage and flags changed), replaces the card
    the browser moved, in place; the headers of the touched columns go out of band. `deal` was
    loaded with what its card shows (the move's lock reads it); `kept` are the columns' kept
    totals as the move wrote them, so this costs no query when the user sees every deal."""
    totals = selectors.stage_totals(
        pipeline=pipeline, stages=stages, user=request.user, filters=filters, kept=kept
    )
    columns = []
    for stage in stages:
        stage.pipeline = pipeline
        columns.append(Column(stage=stage, totals=totals[stage.pk]))
    attach_headers_html(request, pipeline, columns, oob=True)
    context = {
        "pipeline": pipeline,
        "columns": columns,
        "card_html": cards_html(request, decide_card_states([Card.from_deal(deal)])),
    }
    response = render(request, "pipeline/card_moved.html", context)
    return reswap(retarget(response, f"#deal-{deal.pk}"), "outerHTML")
