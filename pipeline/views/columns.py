"""What the board's views share: the filters a request carries, and the answer that
refreshes changed columns (cards and totals) after a drop, an add or a close."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from pipeline import selectors
from pipeline.forms.board import BoardFilterForm
from pipeline.rendering import cards_html
from pipeline.selectors.board import BoardFilters, Column


def all_valid(*forms) -> bool:
    """Validate every form (not stopping at the first invalid one), so all errors show."""
    return all([form.is_valid() for form in forms])


def board_filters(request, pipeline, data) -> BoardFilters | None:
    form = BoardFilterForm(data, pipeline=pipeline)
    return form.filters() if form.is_valid() else None


def columns_response(
    request, *, pipeline, stages, filters, cards_for=(), main=None, loaded=0, toast=""
):
    """One htmx response for the changed columns of a board: the header (count and totals) of
    every stage in `stages`, and the cards of those in `cards_for`. The cards of `main` are the
    primary swap (the column the user dropped into); everything else goes out of band."""
    totals = selectors.stage_totals(
        pipeline=pipeline, stages=stages, user=request.user, filters=filters
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
        columns.append(column)
    context = {
        "pipeline": pipeline,
        "columns": columns,
        "cards_for": cards_for,
        "main": main,
        "filters": filters,
        "filter_query": filters.as_query(),
        "toast": toast,
    }
    return render(request, "pipeline/columns_response.html", context)
