"""A deal: create, the page, edit, move (a board drop, its exit criteria dialog, the deal
page's form), won, lost, reopen, pause, resume, delete, notes."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
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
from pipeline.forms.deals import (
    DealCreateForm,
    DealForm,
    DealLostForm,
    DealMoveForm,
    PauseForm,
    VersionForm,
)
from pipeline.selectors.board import BoardFilters
from pipeline.views.columns import (
    all_valid,
    board_filters,
    card_moved_response,
    columns_response,
)


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
    deal = selectors.deal_get_for_user(
        user=request.user, pk=pk, write=True, related=related, attention=not request.htmx
    )
    form = DealMoveForm(request.POST)
    filters = board_filters(request, deal.pipeline, request.POST)
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
    """A drop (or the criteria dialog's move): the moved card in its place and the headers of
    both columns; the whole target column only when the card did not land where the user put
    it (a neighbour it named has gone, cards the user has not loaded follow it, or it no
    longer matches the "needs attention" filter). From the dialog, the dialog closes once the
    answer is in place."""
    touched = (
        [result.stage] if result.stage == result.from_stage else [result.stage, result.from_stage]
    )
    if result.placed and (result.deal.needs_attention or not filters.attention):
        response = card_moved_response(
            request,
            pipeline=deal.pipeline,
            deal=result.deal,
            stages=touched,
            filters=filters,
            kept=result.kept_totals,
        )
    else:
        response = columns_response(
            request,
            pipeline=deal.pipeline,
            stages=touched,
            filters=filters,
            cards_for={result.stage.pk},
            main=result.stage.pk,
            loaded=data["loaded"] or 0,
            kept=result.kept_totals,
        )
        target = f"#stage-{result.stage.pk}-cards"
        response = reswap(retarget(response, target), "innerHTML")
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
def deal_create(request, pk: int):
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pk)
    can_reassign = selectors.can_manage_pipeline(user=request.user, pipeline=pipeline)
    initial = {"stage": request.GET.get("stage")} if request.GET.get("stage", "").isdigit() else {}
    form = DealCreateForm(
        request.POST or None,
        initial=initial,
        pipeline=pipeline,
        can_reassign=can_reassign,
        user=request.user,
    )
    step_form = NextStepForm(request.POST or None, pipeline=pipeline, can_reassign=can_reassign)
    if request.method == "POST":
        if all_valid(form, step_form):
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
            user=request.user,
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
    form = DealForm(
        request.POST,
        instance=deal,
        pipeline=deal.pipeline,
        can_reassign=can_reassign,
        user=request.user,
    )
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
            user=request.user,
        )
        stale.data["version"] = conflict.current.version
        stale.is_valid()
        return _deal_page(request, current, status=409, form=stale, conflict=current)
    except services.DealRuleError as error:
        deal.refresh_from_db()
        return _deal_page(request, deal, status=400, form=form, error=str(error))
    messages.success(request, _("Saved."))
    return redirect(deal)


def deal_column_and_close_modal(request, deal, *, message: str):
    """The deal's column refreshed (with the board's filters), a toast, and the modal closed."""
    filters = board_filters(request, deal.pipeline, request.POST) or BoardFilters()
    response = columns_response(
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
        return deal_column_and_close_modal(request, deal, message=message)
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


def _run_versioned(request, deal, action, form, *, on_rule_error=None):
    """Change the deal with one service, given the form's cleaned data (its version and any
    other fields the service takes). None when it went through, else the refusal: a conflict
    if someone changed the deal meanwhile, or the rule it broke (`on_rule_error` builds that
    response when the caller wants more than a plain refusal)."""
    try:
        action(acting_user=request.user, deal=deal, **form.cleaned_data)
    except services.DealConflict:
        return _close_conflict(request, deal)
    except services.DealRuleError as error:
        if on_rule_error is not None:
            return on_rule_error(str(error))
        return refusal(request, str(error), status=400)
    return None


def _versioned_action(request, pk: int, action, answer):
    """A plain POST that carries the deal's version and changes the deal with one service;
    `answer(deal)` is the response once it went through."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return form_refusal(request, form)
    refused = _run_versioned(request, deal, action, form)
    if refused is not None:
        return refused
    return answer(deal)


def _back_to_deal(request, message: str):
    def answer(deal):
        messages.success(request, message)
        return redirect(deal)

    return answer


@login_required
@require_POST
def deal_mark_won(request, pk: int):
    def answer(deal):
        message = _("“%(title)s” marked as won.") % {"title": deal.title}
        return _after_close(
            request, deal, message=message, from_board=request.POST.get("from") == "board"
        )

    return _versioned_action(request, pk, services.deal_mark_won, answer)


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
    refused = _run_versioned(request, deal, services.deal_mark_lost, form)
    if refused is not None:
        return refused
    return _after_close(
        request,
        deal,
        message=_("“%(title)s” marked as lost.") % {"title": deal.title},
        from_board=from_board,
    )


@login_required
@require_POST
def deal_reopen(request, pk: int):
    message = _("Reopened: the deal is back on the board.")
    return _versioned_action(request, pk, services.deal_reopen, _back_to_deal(request, message))


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
@require_POST
def deal_pause(request, pk: int):
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, write=True)
    form = PauseForm(request.POST)
    if not form.is_valid():
        return _deal_page(request, deal, status=400, pause_form=form)
    refused = _run_versioned(
        request,
        deal,
        services.deal_pause,
        form,
        on_rule_error=lambda error: _deal_page(
            request, deal, status=400, pause_form=form, error=error
        ),
    )
    if refused is not None:
        return refused
    messages.success(request, _("Paused. The deal is off the board until it resumes."))
    return redirect(deal)


@login_required
@require_POST
def deal_resume(request, pk: int):
    message = _("Resumed: the deal is back on the board.")
    return _versioned_action(request, pk, services.deal_resume, _back_to_deal(request, message))
