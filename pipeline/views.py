from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    reswap,
    retarget,
    trigger_client_event,
)

from crm import services as crm_services
from crm.forms import NoteForm
from crm.web.refusals import form_refusal, refusal
from pipeline import selectors, services
from pipeline.forms.activities import ActivityForm, NextStepForm
from pipeline.forms.board import BoardFilterForm, CursorForm
from pipeline.forms.deals import (
    DealCreateForm,
    DealForm,
    DealLostForm,
    DealMoveForm,
    PauseForm,
    QuickDealForm,
    VersionForm,
)
from pipeline.models import DealStatus
from pipeline.rendering import attach_cards_html, cards_html
from pipeline.selectors.board import BoardFilters, Column


def _all_valid(*forms) -> bool:
    """Validate every form (not stopping at the first invalid one), so all errors show."""
    return all([form.is_valid() for form in forms])


def _board_filters(request, pipeline, data) -> BoardFilters | None:
    form = BoardFilterForm(data, pipeline=pipeline)
    return form.filters() if form.is_valid() else None


def _columns_response(
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
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    form = BoardFilterForm(request.GET, pipeline=pipeline)
    if not form.is_valid():
        return form_refusal(request, form)
    filters = form.filters()
    columns = selectors.board_columns(pipeline=pipeline, user=request.user, filters=filters)
    attach_cards_html(request, columns)
    context = {
        "pipeline": pipeline,
        "pipelines": selectors.pipelines_for_user(user=request.user),
        "columns": columns,
        "filter_form": form,
        "filters": filters,
        "filter_query": filters.as_query(),
        "open_count": sum(c.totals.count for c in columns),
        "attention_count": sum(c.totals.attention for c in columns),
    }
    partial = request.htmx and request.htmx.target == "board"
    return render(
        request, "pipeline/board.html#board" if partial else "pipeline/board.html", context
    )


@login_required
@require_GET
def column_more(request, pk: int, stage_pk: int):
    """The next page of a column's cards, fetched as the column scrolls."""
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    stage = selectors.stage_get_for_user(user=request.user, pk=stage_pk, pipeline=pipeline)
    filters = _board_filters(request, pipeline, request.GET)
    cursor = CursorForm(request.GET)
    if filters is None or not cursor.is_valid():
        return refusal(request, _("That page of the column could not be loaded."), status=400)
    after = (cursor.cleaned_data["after_position"], cursor.cleaned_data["after_id"])
    cards, has_more = selectors.column_cards(
        stage=stage, user=request.user, filters=filters, after=after
    )
    column = Column(stage=stage, totals=None, cards=cards, has_more=has_more)
    column.cards_html = cards_html(request, cards)
    context = {"pipeline": pipeline, "column": column, "filter_query": filters.as_query()}
    return render(request, "pipeline/board.html#cards", context)


def _move_dialog(request, step, *, data, error: str = "", status: int = 200):
    """The exit criteria dialog of a drop, into the modal (also as the answer to a refused
    drop, so the user can tick what is missing)."""
    context = {"step": step, "deal": step.deal, "drop": data, "error": error}
    response = render(request, "pipeline/move_criteria.html", context, status=status)
    return reswap(retarget(response, "#modal-body"), "innerHTML")


@login_required
@require_GET
def deal_move_check(request, pk: int):
    """The dialog the board opens when a card is dropped forward out of a stage with exit
    criteria: the criteria of every stage the move leaves, recorded ones ticked."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True, related=())
    form = DealMoveForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    step = selectors.move_step_for_deal(deal=deal, stage_id=form.cleaned_data["stage"])
    if step is None:
        return refusal(request, _("That stage is not part of this deal's pipeline."), status=400)
    return _move_dialog(request, step, data=form.cleaned_data)


MOVE_CONFLICT = gettext_lazy(
    "Someone else changed this deal a moment ago. The board has been refreshed."
)


@login_required
@require_POST
def deal_move(request, pk: int):
    """Drop a card (htmx, from the board or its exit criteria dialog) or pick a stage (plain
    form, on the deal page; a forward move out of a stage with exit criteria shows them first
    as a second step). One service call; the answer is chosen per client below. The deal is
    loaded once, with what the deal page shows when that is the client."""
    related = () if request.htmx else selectors.DEAL_PAGE_RELATED
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True, related=related)
    form = DealMoveForm(request.POST)
    filters = _board_filters(request, deal.pipeline, request.POST)
    if not form.is_valid() or filters is None:
        if request.htmx:
            return form_refusal(request, form)
        return _deal_page(request, deal, status=400, move_form=form)
    data = form.cleaned_data
    if not request.htmx and not data["confirm"]:
        step = selectors.move_step_for_deal(deal=deal, stage_id=data["stage"])
        if step is not None and step.criteria:
            return _deal_page(request, deal, move_step=step)
    try:
        result = services.deal_move(
            acting_user=request.user,
            deal=deal,
            stage_id=data["stage"],
            version=data["version"],
            after_id=data["after"],
            before_id=data["before"],
            criteria=data["criteria"],
        )
    except (services.DealConflict, services.DealRuleError) as error:
        refused = _move_refused_on_board if request.htmx else _move_refused_on_page
        return refused(request, deal, data, error)
    if request.htmx:
        return _moved_on_board(request, deal, data, filters, result)
    return _moved_on_page(request, deal, result)


def _moved_on_board(request, deal, data, filters, result):
    """A drop (or the criteria dialog's move): the target column's cards and the headers of
    both columns; from the dialog, the dialog closes once the columns are in place."""
    touched = (
        [result.stage] if result.stage == result.from_stage else [result.stage, result.from_stage]
    )
    response = _columns_response(
        request,
        pipeline=deal.pipeline,
        stages=touched,
        filters=filters,
        cards_for={result.stage.pk},
        main=result.stage.pk,
        loaded=data["loaded"] or 0,
    )
    if data["criteria"] or data["confirm"]:  # from the exit criteria dialog
        response = trigger_client_event(response, "modal:close", after="settle")
    return response


def _move_refused_on_board(request, deal, data, error):
    """A refused drop: a toast, or the exit criteria dialog again when a required criterion
    is missing, so the user can tick it."""
    if isinstance(error, services.DealConflict):
        return refusal(request, str(MOVE_CONFLICT), status=409)
    if isinstance(error, services.ExitCriteriaUnmet):
        step = selectors.move_step_for_deal(deal=deal, stage_id=data["stage"])
        return _move_dialog(request, step, data=data, error=str(error), status=422)
    return refusal(request, str(error), status=400)


def _moved_on_page(request, deal, result):
    if result.changed:
        messages.success(request, _("Moved to %(stage)s.") % {"stage": result.stage.name})
    return redirect(deal)


def _move_refused_on_page(request, deal, data, error):
    """A refused "Move to stage": the deal page with the message (and the criteria step when
    a required criterion is missing); a stale one goes back to the deal as it is now."""
    if isinstance(error, services.DealConflict):
        messages.error(request, str(MOVE_CONFLICT))
        return redirect(deal)
    if isinstance(error, services.ExitCriteriaUnmet):
        step = selectors.move_step_for_deal(deal=deal, stage_id=data["stage"])
        return _deal_page(request, deal, status=422, move_step=step, error=str(error))
    return _deal_page(request, deal, status=400, error=str(error))


@login_required
@require_http_methods(["GET", "POST"])
def deal_quick_create(request, pk: int, stage_pk: int):
    """The column's "+": a small form in the column, the new card at the top."""
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    stage = selectors.stage_get_for_user(user=request.user, pk=stage_pk, pipeline=pipeline)
    form = QuickDealForm(request.POST or None, pipeline=pipeline)
    step_form = NextStepForm(
        request.POST or None, pipeline=pipeline, can_reassign=False, compact=True
    )
    context = {"pipeline": pipeline, "stage": stage, "form": form, "step_form": step_form}
    if request.method == "GET":
        return render(request, "pipeline/deal_quick_form.html", context)
    filters = _board_filters(request, pipeline, request.POST) or BoardFilters()
    if not _all_valid(form, step_form):
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
    return _columns_response(
        request,
        pipeline=pipeline,
        stages=[stage],
        filters=filters,
        cards_for={stage.pk},
        toast=_("“%(title)s” added.") % {"title": deal.title},
    )


@login_required
@require_http_methods(["GET", "POST"])
def deal_create(request, pk: int):
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    can_reassign = selectors.can_manage_pipeline(user=request.user, pipeline=pipeline)
    initial = {"stage": request.GET.get("stage")} if request.GET.get("stage", "").isdigit() else {}
    form = DealCreateForm(
        request.POST or None, initial=initial, pipeline=pipeline, can_reassign=can_reassign
    )
    step_form = NextStepForm(request.POST or None, pipeline=pipeline, can_reassign=can_reassign)
    if request.method == "POST":
        if _all_valid(form, step_form):
            try:
                deal = services.deal_create(
                    acting_user=request.user, next_step=step_form.next_step(), **form.cleaned_data
                )
            except services.DealRuleError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Deal created."))
                return redirect(deal)
        status = 400
    else:
        status = 200
    context = {"pipeline": pipeline, "form": form, "step_form": step_form}
    return render(request, "pipeline/deal_create.html", context, status=status)


def _deal_page(
    request,
    deal,
    *,
    status=200,
    form=None,
    move_form=None,
    error="",
    conflict=None,
    pause_form=None,
    move_step=None,
):
    can_edit = selectors.can_edit_deal(user=request.user, deal=deal)
    can_reassign = selectors.can_reassign_deal(user=request.user, deal=deal)
    if form is None and can_edit:
        form = DealForm(
            instance=deal,
            initial={"version": deal.version},
            pipeline=deal.pipeline,
            can_reassign=can_reassign,
        )
    context = {
        "deal": deal,
        "form": form,
        "move_form": move_form or DealMoveForm(initial={"stage": deal.stage_id}),
        "lost_form": DealLostForm(initial={"version": deal.version}),
        "note_form": NoteForm(),
        "notes": deal.notes.select_related("author"),
        "can_edit": can_edit,
        "can_delete": selectors.can_delete_deal(user=request.user, deal=deal),
        "error": error,
        "conflict": conflict,
        "stages": deal.pipeline.stages.active(),
        "timeline": selectors.deal_timeline(deal=deal),
        "criterion_checks": selectors.criterion_checks_for_deal(deal=deal),
        "move_step": move_step,
        "today": timezone.localdate(),
    }
    if can_edit:
        context["activity_form"] = ActivityForm(deal=deal, acting_user=request.user)
        context["pause_form"] = pause_form or PauseForm(
            initial={"version": deal.version, "until": timezone.localdate() + timedelta(days=30)}
        )
    return render(request, "pipeline/deal_detail.html", context, status=status)


@login_required
@require_GET
def deal_detail(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk)
    return _deal_page(request, deal)


@login_required
@require_POST
def deal_update(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    can_reassign = selectors.can_reassign_deal(user=request.user, deal=deal)
    form = DealForm(request.POST, instance=deal, pipeline=deal.pipeline, can_reassign=can_reassign)
    if not form.is_valid():
        deal.refresh_from_db()
        return _deal_page(request, deal, status=400, form=form)
    data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
    try:
        services.deal_update(
            acting_user=request.user, deal=deal, version=form.cleaned_data["version"], data=data
        )
    except services.DealConflict as conflict:
        current = selectors.deal_get_for_user(user=request.user, pk=pk)
        # Keep what the user typed, show what is saved now, and let them save deliberately.
        # The form gets its own copy: validating a ModelForm writes into its instance.
        stale = DealForm(
            request.POST.copy(),
            instance=selectors.deal_get_for_user(user=request.user, pk=pk),
            pipeline=deal.pipeline,
            can_reassign=can_reassign,
        )
        stale.data["version"] = conflict.current.version
        stale.is_valid()
        return _deal_page(request, current, status=409, form=stale, conflict=current)
    except services.DealRuleError as error:
        deal.refresh_from_db()
        return _deal_page(request, deal, status=400, form=form, error=str(error))
    messages.success(request, _("Saved."))
    return redirect(deal)


def _deal_column_and_close_modal(request, deal, *, message: str):
    """The deal's column refreshed (with the board's filters), a toast, and the modal closed."""
    filters = _board_filters(request, deal.pipeline, request.POST) or BoardFilters()
    response = _columns_response(
        request,
        pipeline=deal.pipeline,
        stages=[deal.stage],
        filters=filters,
        cards_for={deal.stage_id},
        toast=message,
    )
    # After the swap: closing the modal first would detach the form that sent the request.
    return trigger_client_event(response, "modal:close", after="settle")


def _after_close(request, deal, *, message: str, from_board: bool):
    if from_board and request.htmx:
        return _deal_column_and_close_modal(request, deal, message=message)
    messages.success(request, message)
    if request.htmx:
        return HttpResponseClientRedirect(deal.get_absolute_url())
    return redirect(deal)


def _close_conflict(request, deal):
    message = _("Someone else changed this deal a moment ago. Please look again.")
    if request.htmx:
        return refusal(request, message, status=409)
    messages.error(request, message)
    return redirect(deal)


def _versioned_action(request, pk: int, action, success_message: str):
    """A plain POST that carries the deal's version and changes the deal with one service."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    try:
        action(acting_user=request.user, deal=deal, version=form.cleaned_data["version"])
    except services.DealConflict:
        return _close_conflict(request, deal)
    except services.DealRuleError as error:
        return refusal(request, str(error), status=400)
    messages.success(request, success_message)
    return redirect(deal)


@login_required
@require_POST
def deal_mark_won(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    try:
        services.deal_mark_won(
            acting_user=request.user, deal=deal, version=form.cleaned_data["version"]
        )
    except services.DealConflict:
        return _close_conflict(request, deal)
    except services.DealRuleError as error:
        return refusal(request, str(error), status=400)
    return _after_close(
        request,
        deal,
        message=_("“%(title)s” marked as won.") % {"title": deal.title},
        from_board=request.POST.get("from") == "board",
    )


@login_required
@require_http_methods(["GET", "POST"])
def deal_mark_lost(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    from_board = (request.POST or request.GET).get("from") == "board"
    form = DealLostForm(request.POST or None, initial={"version": deal.version})
    context = {"deal": deal, "form": form, "from_board": from_board}
    template = "pipeline/deal_lost_form.html" if request.htmx else "pipeline/deal_lost.html"
    if request.method == "GET":
        return render(request, template, context)
    if not form.is_valid():
        return render(request, template, context, status=400)
    try:
        services.deal_mark_lost(
            acting_user=request.user,
            deal=deal,
            version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except services.DealConflict:
        return _close_conflict(request, deal)
    except services.DealRuleError as error:
        return refusal(request, str(error), status=400)
    return _after_close(
        request,
        deal,
        message=_("“%(title)s” marked as lost.") % {"title": deal.title},
        from_board=from_board,
    )


@login_required
@require_POST
def deal_reopen(request, pk: int):
    return _versioned_action(
        request, pk, services.deal_reopen, _("Reopened: the deal is back on the board.")
    )


@login_required
@require_POST
def deal_delete(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk)
    if not selectors.can_delete_deal(user=request.user, deal=deal):
        raise PermissionDenied
    services.deal_delete(acting_user=request.user, deal=deal)
    messages.success(request, _("Deal deleted."))
    return redirect("board", deal.pipeline_id)


@login_required
@require_POST
def deal_note_create(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _deal_page(
            request, deal, status=400, error=_("A note needs some text (at most 5,000 characters).")
        )
    crm_services.note_create(acting_user=request.user, subject=deal, body=form.cleaned_data["body"])
    messages.success(request, _("Note added."))
    return redirect(deal)


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


# --- activities and the next step -------------------------------------------------------

# Where an activity form or a "Done" was used, so the answer fits the page: the board gets
# its column back, "My next steps" its list, the deal page a reload.
ACTIVITY_ORIGINS = ("board", "next-steps", "deal")


def _origin(request) -> str:
    origin = (request.POST or request.GET).get("from", "")
    return origin if origin in ACTIVITY_ORIGINS else "deal"


def _activity_form_response(request, *, deal, form, action, heading, origin, done=None, status=200):
    context = {
        "deal": deal,
        "form": form,
        "action": action,
        "heading": heading,
        "origin": origin,
        "done": done,
        "is_modal": bool(request.htmx),
    }
    template = "pipeline/activity_form.html" if request.htmx else "pipeline/activity_page.html"
    return render(request, template, context, status=status)


def _after_activity_saved(request, deal, *, origin: str, message: str):
    """The answer to a saved next step: the card's column (board), the list (My next steps)
    or the deal page, and the modal closed."""
    if request.htmx and origin == "board":
        return _deal_column_and_close_modal(request, deal, message=message)
    if request.htmx and origin == "next-steps":
        response = render(
            request,
            "pipeline/my_next_steps.html#groups-refresh",
            {"steps": _my_next_steps(request), "toast": message},
        )
        return trigger_client_event(response, "modal:close", after="settle")
    messages.success(request, message)
    target = reverse("my-next-steps") if origin == "next-steps" else deal.get_absolute_url()
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def activity_create(request, pk: int):
    """Plan a next step on a deal: a modal from the board or the deal page, or a page."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    origin = _origin(request)
    form = ActivityForm(request.POST or None, deal=deal, acting_user=request.user)
    kwargs = {
        "deal": deal,
        "form": form,
        "action": reverse("activity-create", args=[deal.pk]),
        "heading": _("Plan the next step"),
        "origin": origin,
    }
    if request.method == "GET":
        return _activity_form_response(request, **kwargs)
    if not form.is_valid():
        return _activity_form_response(request, status=400, **kwargs)
    try:
        activity = services.activity_create(
            acting_user=request.user, deal=deal, **form.cleaned_data
        )
    except services.DealRuleError as error:
        form.add_error(None, str(error))
        return _activity_form_response(request, status=400, **kwargs)
    message = _("Next step planned: %(subject)s.") % {"subject": activity.subject}
    return _after_activity_saved(request, deal, origin=origin, message=message)


@login_required
@require_http_methods(["GET", "POST"])
def activity_update(request, pk: int):
    """Change an open activity (what, who, when). Needs the right to edit its deal."""
    activity = selectors.activity_get_for_user(user=request.user, pk=pk)
    deal = selectors.deal_get_for_user(user=request.user, pk=activity.deal_id, write=True)
    origin = _origin(request)
    form = ActivityForm(
        request.POST or None, instance=activity, deal=deal, acting_user=request.user
    )
    kwargs = {
        "deal": deal,
        "form": form,
        "action": reverse("activity-update", args=[activity.pk]),
        "heading": _("Change the next step"),
        "origin": origin,
    }
    if activity.is_done:
        return refusal(request, _("This activity is already done."), status=400)
    if request.method == "GET":
        return _activity_form_response(request, **kwargs)
    if not form.is_valid():
        return _activity_form_response(request, status=400, **kwargs)
    try:
        services.activity_update(
            acting_user=request.user, activity=activity, data=form.cleaned_data
        )
    except services.DealRuleError as error:
        form.add_error(None, str(error))
        return _activity_form_response(request, status=400, **kwargs)
    message = _("Next step saved.")
    return _after_activity_saved(request, deal, origin=origin, message=message)


@login_required
@require_POST
def activity_complete(request, pk: int):
    """Mark an activity done (its assignee may, as may whoever edits the deal) and ask for the
    following step: htmx gets the "What's the next step?" form for the modal, with the card's
    column or the list row refreshed out of band; without JavaScript, the deal page."""
    activity = selectors.activity_get_for_user(user=request.user, pk=pk, write=True)
    deal = activity.deal
    origin = _origin(request)
    try:
        services.activity_complete(acting_user=request.user, activity=activity)
    except services.DealRuleError as error:
        return refusal(request, str(error), status=400)
    message = _("Done: %(subject)s.") % {"subject": activity.subject}
    if not request.htmx:
        messages.success(request, message)
        if origin == "next-steps":
            return redirect("my-next-steps")
        return redirect(deal)
    can_plan = selectors.can_edit_deal(user=request.user, deal=deal)
    deal = selectors.deal_get_for_user(user=request.user, pk=deal.pk)
    # Ask for the following step only when the deal is left without one and the user may plan.
    ask = (
        can_plan
        and deal.next_step_id is None
        and deal.status in (DealStatus.OPEN, DealStatus.PAUSED)
    )
    if origin == "board":
        filters = _board_filters(request, deal.pipeline, request.POST) or BoardFilters()
        after = _columns_response(
            request,
            pipeline=deal.pipeline,
            stages=[deal.stage],
            filters=filters,
            cards_for={deal.stage_id},
            toast="" if ask else message,
        ).content.decode()
    elif origin == "next-steps":
        after = render_to_string(
            "pipeline/my_next_steps.html#step-done",
            {"activity": activity, "deal": deal, "can_plan": ask, "oob": True},
            request=request,
        )
    else:
        messages.success(request, message)
        if not ask:
            return HttpResponseClientRedirect(deal.get_absolute_url())
        after = ""
    if not ask:
        return HttpResponse(after)
    form = ActivityForm(
        deal=deal,
        acting_user=request.user,
        initial={"kind": activity.kind, "assignee": activity.assignee_id or deal.owner_id},
    )
    response = _activity_form_response(
        request,
        deal=deal,
        form=form,
        action=reverse("activity-create", args=[deal.pk]),
        heading=_("What's the next step?"),
        origin=origin,
        done=activity,
    )
    response.content = response.content + after.encode()
    return response


def _my_next_steps(request) -> selectors.NextSteps:
    return selectors.next_steps_for_user(user=request.user, today=timezone.localdate())


@login_required
@require_GET
def my_next_steps(request):
    """The signed-in user's open activities: overdue, today, this week, later."""
    return render(request, "pipeline/my_next_steps.html", {"steps": _my_next_steps(request)})


@login_required
@require_POST
def deal_pause(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    form = PauseForm(request.POST)
    if not form.is_valid():
        return _deal_page(request, deal, status=400, pause_form=form)
    try:
        services.deal_pause(
            acting_user=request.user,
            deal=deal,
            version=form.cleaned_data["version"],
            until=form.cleaned_data["until"],
            reason=form.cleaned_data["reason"],
        )
    except services.DealConflict:
        return _close_conflict(request, deal)
    except services.DealRuleError as error:
        return _deal_page(request, deal, status=400, pause_form=form, error=str(error))
    messages.success(request, _("Paused. The deal is off the board until it resumes."))
    return redirect(deal)


@login_required
@require_POST
def deal_resume(request, pk: int):
    return _versioned_action(
        request, pk, services.deal_resume, _("Resumed: the deal is back on the board.")
    )
