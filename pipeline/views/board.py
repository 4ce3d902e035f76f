"""The board: the user's default board, a pipeline's columns, a column's next cards, the
column's quick add and the closed and paused deals beside it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.web.exports import export_stream
from crm.web.refusals import form_refusal, refusal
from pipeline import selectors, services
from pipeline.forms.activities import NextStepForm
from pipeline.forms.board import BoardFilterForm, CursorForm
from pipeline.forms.deals import (
    QuickDealForm,
)
from pipeline.rendering import (
    activities_path,
    attach_cards_html,
    attach_headers_html,
    board_part_html,
    cards_html,
)
from pipeline.selectors.board import BoardFilters, Column
from pipeline.selectors.exports import DEAL_HEADER, STATUSES, deal_export_rows
from pipeline.views.columns import all_valid, board_filters, columns_response


@login_required
@require_GET
def home(request):
    """The user's default board; `?pipeline=<id>` is the pipeline switcher without JavaScript."""
    if request.GET.get("pipeline", "").isdigit():
        pipeline = selectors.pipeline_get_for_user(
            user=request.user, pk=int(request.GET["pipeline"])
        )
        return redirect("board", pipeline.pk)
    pipeline = selectors.default_pipeline_for_user(user=request.user)
    if pipeline is None:
        return render(request, "pipeline/no_pipeline.html")
    return redirect("board", pipeline.pk)


@login_required
@require_GET
def board(request, pk: int):
    pipeline, pipelines = selectors.pipeline_and_switcher_for_user(user=request.user, pk=pk)
    form = BoardFilterForm(request.GET, pipeline=pipeline)
    if not form.is_valid():
        return form_refusal(request, form)
    filters = form.filters()
    columns = selectors.board_columns(pipeline=pipeline, user=request.user, filters=filters)
    attach_cards_html(request, columns)
    attach_headers_html(request, pipeline, columns)
    context = {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "columns": columns,
        "filters": filters,
        "activities_path": activities_path(),
        "attention_count": sum(c.totals.attention for c in columns),
    }
    if request.htmx and request.htmx.target == "board":
        return HttpResponse(board_part_html(request, "board", context))
    # Only the page draws the toolbar's owner select: reading the team's people costs a query.
    context["owner_choices"] = form.owner_choices
    context["board_page"] = board_part_html(request, "page", context)
    return render(request, "pipeline/board.html", context)


@login_required
@require_GET
def column_more(request, pk: int, stage_pk: int):
    """The next page of a column's cards, fetched as the column scrolls."""
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    stage = selectors.stage_get_for_user(user=request.user, pk=stage_pk, pipeline=pipeline)
    filters = board_filters(request, pipeline, request.GET)
    cursor = CursorForm(request.GET)
    if filters is None or not cursor.is_valid():
        return refusal(request, _("That page of the column could not be loaded."), status=400)
    after = (cursor.cleaned_data["after_position"], cursor.cleaned_data["after_id"])
    cards, has_more = selectors.column_cards(
        stage=stage, user=request.user, filters=filters, after=after
    )
    column = Column(stage=stage, totals=None, cards=cards, has_more=has_more)
    column.cards_html = cards_html(request, cards)
    context = {"pipeline": pipeline, "column": column, "filters": filters}
    return HttpResponse(board_part_html(request, "cards", context))


@login_required
@require_http_methods(["GET", "POST"])
def deal_quick_create(request, pk: int, stage_pk: int):
    """The column's "+": a small form in the column, the new card at the top."""
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    stage = selectors.stage_get_for_user(user=request.user, pk=stage_pk, pipeline=pipeline)
    # Ids of its own (quick-company-<stage>): several columns' forms may be open at once.
    form = QuickDealForm(
        request.POST or None, pipeline=pipeline, user=request.user, auto_id=f"quick-%s-{stage.pk}"
    )
    step_form = NextStepForm(
        request.POST or None, pipeline=pipeline, can_reassign=False, compact=True
    )
    context = {"pipeline": pipeline, "stage": stage, "form": form, "step_form": step_form}
    if request.method == "GET":
        return render(request, "pipeline/deal_quick_form.html", context)
    filters = board_filters(request, pipeline, request.POST) or BoardFilters()
    if not all_valid(form, step_form):
        return render(request, "pipeline/deal_quick_form.html", context, status=400)
    try:
        deal = services.deal_create(
            acting_user=request.user,
            stage=stage,
            next_step=step_form.next_step(),
            **form.cleaned_data,
        )
    except services.DealRuleError as error:
        form.add_error(None, str(error))
        return render(request, "pipeline/deal_quick_form.html", context, status=400)
    return columns_response(
        request,
        pipeline=pipeline,
        stages=[stage],
        filters=filters,
        cards_for={stage.pk},
        toast=_("“%(title)s” added.") % {"title": deal.title},
    )


@login_required
@require_GET
def closed_deals(request, pk: int):
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    deals = selectors.closed_deals_for_pipeline(pipeline=pipeline, user=request.user)
    return render(
        request,
        "pipeline/closed_deals.html",
        {
            "pipeline": pipeline,
            "deals": deals,
            "paused": selectors.paused_deals_for_pipeline(pipeline=pipeline, user=request.user),
            "pipelines": selectors.pipelines_for_user(user=request.user),
        },
    )


@login_required
@require_GET
def deal_export(request, pk: int, file_format: str):
    """The pipeline's deals the board's filters select, as CSV or XLSX: the open ones (the
    board), the closed ones or all (`?status=`)."""
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    filters = board_filters(request, pipeline, request.GET)
    status = request.GET.get("status", "open")
    if filters is None or status not in STATUSES:
        return refusal(request, _("Those filters are not understood."), status=400)
    rows = deal_export_rows(user=request.user, pipeline=pipeline, filters=filters, status=status)
    name = f"deals-{slugify(pipeline.name) or pipeline.pk}"
    return export_stream(file_format, name=name, header=DEAL_HEADER, rows=rows)
