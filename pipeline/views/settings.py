"""Settings pages for admins: pipelines, stages, exit criteria and follow-up routines, lost
reasons, product areas. Every view passes the settings door first (403 for anyone but an
admin), then loads its object (404 for an unknown id). Stage rows and lists edit in place with
htmx; every form also works as a plain POST that redirects."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import settings_access
from crm.web.refusals import form_errors_text, refusal
from pipeline import selectors, services
from pipeline.forms.settings import (
    DirectionForm,
    ExitCriterionForm,
    ListEntryForm,
    OrderForm,
    PipelineCreateForm,
    PipelineForm,
    RoutineForm,
    RoutineUpdateForm,
    StageForm,
    StageRemoveForm,
)
from pipeline.models import ActivityKind, LostReason, ProductArea

PIPELINE_PAGE = "settings/pipeline_detail.html"


def _done(request, message: str, url: str):
    messages.success(request, message)
    return redirect(url)


@login_required
@require_GET
def settings_home(request):
    settings_access(user=request.user)
    return redirect("settings-pipelines")


# --- pipelines ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_list(request):
    pipelines = selectors.pipelines_for_settings(user=request.user)
    form = PipelineCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            pipeline = services.pipeline_create(acting_user=request.user, **form.cleaned_data)
            message = _("Pipeline “%(name)s” created.") % {"name": pipeline.name}
            return _done(request, message, reverse("settings-pipeline", args=[pipeline.pk]))
        status = 400
    else:
        status = 200
    context = {"pipelines": pipelines, "form": form}
    return render(request, "settings/pipeline_list.html", context, status=status)


def _pipeline_page(request, pipeline, *, status=200, form=None, stage_form=None, moved=None):
    context = {
        "pipeline": pipeline,
        "form": form
        or PipelineForm(
            initial={
                "name": pipeline.name,
                "team": pipeline.team_id,
                "qualified_after_stage": pipeline.qualified_after_stage_id,
            },
            pipeline=pipeline,
        ),
        "stage_form": stage_form or StageForm(),
        "moved": moved,
    }
    context["stages"] = stages = selectors.stages_for_settings(pipeline=pipeline)
    context["inversions"] = selectors.probability_inversions(stages=stages)
    if request.htmx and request.method == "POST":  # a stage action: answer with the panel
        return render(request, f"{PIPELINE_PAGE}#stage-panel", context, status=status)
    return render(request, PIPELINE_PAGE, context, status=status)


@login_required
@require_GET
def pipeline_detail(request, pk: int):
    pipeline = selectors.pipeline_get_for_settings(user=request.user, pk=pk)
    return _pipeline_page(request, pipeline)


@login_required
@require_POST
def pipeline_update(request, pk: int):
    pipeline = selectors.pipeline_get_for_settings(user=request.user, pk=pk)
    form = PipelineForm(request.POST, pipeline=pipeline)
    if form.is_valid():
        try:
            services.pipeline_update(
                acting_user=request.user, pipeline=pipeline, **form.cleaned_data
            )
        except services.SettingsError as error:
            form.add_error(None, str(error))
        else:
            return _done(request, _("Pipeline saved."), reverse("settings-pipeline", args=[pk]))
    return _pipeline_page(request, pipeline, status=400, form=form)


@login_required
@require_POST
def pipeline_archive(request, pk: int):
    pipeline = selectors.pipeline_get_for_settings(user=request.user, pk=pk)
    services.pipeline_archive(acting_user=request.user, pipeline=pipeline)
    message = _("“%(name)s” is archived: it no longer appears on the board.")
    return _done(
        request, message % {"name": pipeline.name}, reverse("settings-pipeline", args=[pk])
    )


@login_required
@require_POST
def pipeline_unarchive(request, pk: int):
    pipeline = selectors.pipeline_get_for_settings(user=request.user, pk=pk)
    services.pipeline_unarchive(acting_user=request.user, pipeline=pipeline)
    message = _("“%(name)s” is back on the board.") % {"name": pipeline.name}
    return _done(request, message, reverse("settings-pipeline", args=[pk]))


# --- stages -------------------------------------------------------------------------------


@login_required
@require_POST
def stage_create(request, pk: int):
    pipeline = selectors.pipeline_get_for_settings(user=request.user, pk=pk)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            stage = services.stage_create(
                acting_user=request.user, pipeline=pipeline, **form.cleaned_data
            )
        except services.SettingsError as error:
            form.add_error("name", str(error))
        else:
            if request.htmx:
                return _pipeline_page(request, pipeline)
            message = _("Stage “%(name)s” added.") % {"name": stage.name}
            return _done(request, message, reverse("settings-pipeline", args=[pk]))
    return _pipeline_page(request, pipeline, status=400, stage_form=form)


@login_required
@require_POST
def stage_reorder(request, pk: int):
    """A drag: the whole new order of the pipeline's stages."""
    pipeline = selectors.pipeline_get_for_settings(user=request.user, pk=pk)
    form = OrderForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    try:
        services.stage_reorder(
            acting_user=request.user, pipeline=pipeline, stage_ids=form.cleaned_data["order"]
        )
    except services.SettingsError as error:
        return refusal(request, str(error), status=400)
    if request.htmx:
        return _pipeline_page(request, pipeline)
    return _done(request, _("Stage order saved."), reverse("settings-pipeline", args=[pk]))


@login_required
@require_POST
def stage_move(request, pk: int):
    """The keyboard path: move one stage up or down."""
    stage = selectors.stage_get_for_settings(user=request.user, pk=pk)
    form = DirectionForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    direction = form.cleaned_data["direction"]
    services.stage_move(acting_user=request.user, stage=stage, direction=direction)
    if request.htmx:
        moved = {"pk": stage.pk, "direction": direction}
        return _pipeline_page(request, stage.pipeline, moved=moved)
    url = reverse("settings-pipeline", args=[stage.pipeline_id]) + f"#stage-{stage.pk}"
    return _done(request, _("Stage order saved."), url)


@login_required
@require_GET
def stage_row(request, pk: int):
    """One stage's row (htmx: "Cancel" in its edit panel)."""
    stage = selectors.stage_get_for_settings(user=request.user, pk=pk)
    if not request.htmx:
        return redirect(reverse("settings-pipeline", args=[stage.pipeline_id]))
    context = {"stage": selectors.stage_with_counts(stage=stage), "pipeline": stage.pipeline}
    return render(request, f"{PIPELINE_PAGE}#stage-row", context)


def _stage_edit(
    request, stage, *, form=None, criterion_form=None, routine_form=None, status=200, partial=None
):
    context = {
        "stage": stage,
        "pipeline": stage.pipeline,
        "form": form
        or StageForm(
            initial={
                "name": stage.name,
                "probability": stage.probability,
                "rot_days": stage.rot_days,
            }
        ),
        "criterion_form": criterion_form or ExitCriterionForm(),
        "criteria": list(stage.exit_criteria.all()),
        "routine_form": routine_form or RoutineForm(),
        "routines": list(stage.routines.all()),
        "kinds": ActivityKind.choices,
    }
    if request.htmx:
        template = f"{PIPELINE_PAGE}#{partial or 'stage-edit'}"
    else:
        template = "settings/stage_edit.html"
        stages = selectors.stages_for_settings(pipeline=stage.pipeline)
        context["inversions"] = selectors.probability_inversions(stages=stages)
    return render(request, template, context, status=status)


def _out_of_order_message(stage, inversions) -> str:
    """The toast after saving a stage that is part of an inversion."""
    for inversion in inversions:
        if stage.pk in (inversion.stage.pk, inversion.earlier.pk):
            return _(
                "Stage saved, but its probability is out of order: “%(later)s” (%(later_p)s %%) "
                "comes after “%(earlier)s” (%(earlier_p)s %%)."
            ) % {
                "later": inversion.stage.name,
                "later_p": inversion.stage.probability,
                "earlier": inversion.earlier.name,
                "earlier_p": inversion.earlier.probability,
            }
    return _("Stage saved.")


@login_required
@require_http_methods(["GET", "POST"])
def stage_update(request, pk: int):
    stage = selectors.stage_get_for_settings(user=request.user, pk=pk)
    if request.method == "GET":
        return _stage_edit(request, stage)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            services.stage_update(acting_user=request.user, stage=stage, **form.cleaned_data)
        except services.SettingsError as error:
            form.add_error("name", str(error))
        else:
            row, inversions = selectors.stage_row_with_inversions(stage=stage)
            if request.htmx:
                # The row, and the order warning out of band: this save may have made or
                # mended an inversion.
                context = {"stage": row, "saved": True, "inversions": inversions, "oob": True}
                return render(request, "settings/stage_saved.html", context)
            url = reverse("settings-pipeline", args=[stage.pipeline_id]) + f"#stage-{pk}"
            if any(stage.pk in (i.stage.pk, i.earlier.pk) for i in inversions):
                messages.warning(request, _out_of_order_message(stage, inversions))
                return redirect(url)
            return _done(request, _("Stage saved."), url)
    return _stage_edit(request, stage, form=form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def stage_delete(request, pk: int):
    """Remove a stage: it asks where its deals go when it holds any."""
    stage = selectors.stage_get_for_settings(user=request.user, pk=pk)
    counts = services.stage_deal_counts(stage)
    targets = selectors.removal_targets(stage=stage)
    form = StageRemoveForm(
        request.POST if request.method == "POST" else None,
        targets=targets,
        needs_target=bool(sum(counts.values())),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            target = form.cleaned_data["move_deals_to"]
            try:
                services.stage_delete(acting_user=request.user, stage=stage, move_deals_to=target)
            except services.SettingsError as error:
                form.add_error(None, str(error))
            else:
                message = _("Stage “%(name)s” removed.") % {"name": stage.name}
                return _done(
                    request, message, reverse("settings-pipeline", args=[stage.pipeline_id])
                )
    context = {
        "stage": stage,
        "pipeline": stage.pipeline,
        "form": form,
        "counts": counts,
        "deal_total": sum(counts.values()),
        "is_last": not targets.exists(),
    }
    return render(request, "settings/stage_delete.html", context, status=status)


# --- exit criteria ------------------------------------------------------------------------


def _criteria_answer(request, stage, *, message: str, form=None, status=200):
    if request.htmx:
        stage = selectors.stage_get_for_settings(user=request.user, pk=stage.pk)
        return _stage_edit(request, stage, criterion_form=form, status=status, partial="criteria")
    if status != 200:
        stage = selectors.stage_get_for_settings(user=request.user, pk=stage.pk)
        return _stage_edit(request, stage, criterion_form=form, status=status)
    return _done(request, message, reverse("settings-stage-update", args=[stage.pk]))


@login_required
@require_POST
def criterion_create(request, pk: int):
    stage = selectors.stage_get_for_settings(user=request.user, pk=pk)
    form = ExitCriterionForm(request.POST)
    if form.is_valid():
        try:
            services.exit_criterion_create(
                acting_user=request.user, stage=stage, **form.cleaned_data
            )
        except services.SettingsError as error:
            form.add_error("text", str(error))
        else:
            return _criteria_answer(request, stage, message=_("Exit criterion added."))
    return _criteria_answer(request, stage, message="", form=form, status=400)


@login_required
@require_POST
def criterion_update(request, pk: int):
    criterion = selectors.criterion_get_for_settings(user=request.user, pk=pk)
    form = ExitCriterionForm(request.POST, prefix=f"c{criterion.pk}")
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    try:
        services.exit_criterion_update(
            acting_user=request.user, criterion=criterion, **form.cleaned_data
        )
    except services.SettingsError as error:
        return refusal(request, str(error), status=400)
    return _criteria_answer(request, criterion.stage, message=_("Exit criterion saved."))


@login_required
@require_POST
def criterion_delete(request, pk: int):
    criterion = selectors.criterion_get_for_settings(user=request.user, pk=pk)
    services.exit_criterion_delete(acting_user=request.user, criterion=criterion)
    return _criteria_answer(request, criterion.stage, message=_("Exit criterion removed."))


@login_required
@require_POST
def criterion_move(request, pk: int):
    criterion = selectors.criterion_get_for_settings(user=request.user, pk=pk)
    form = DirectionForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    services.exit_criterion_move(
        acting_user=request.user, criterion=criterion, direction=form.cleaned_data["direction"]
    )
    return _criteria_answer(request, criterion.stage, message=_("Order saved."))


# --- follow-up routines ---------------------------------------------------------------------


def _routines_answer(request, stage, *, message: str, form=None, status=200):
    if request.htmx or status != 200:
        stage = selectors.stage_get_for_settings(user=request.user, pk=stage.pk)
        partial = "routines" if request.htmx else None
        return _stage_edit(request, stage, routine_form=form, status=status, partial=partial)
    return _done(request, message, reverse("settings-stage-update", args=[stage.pk]))


@login_required
@require_POST
def routine_create(request, pk: int):
    stage = selectors.stage_get_for_settings(user=request.user, pk=pk)
    form = RoutineForm(request.POST)
    if form.is_valid():
        try:
            services.routine_create(acting_user=request.user, stage=stage, **form.cleaned_data)
        except services.SettingsError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            return _routines_answer(request, stage, message=_("Follow-up routine added."))
    return _routines_answer(request, stage, message="", form=form, status=400)


@login_required
@require_POST
def routine_update(request, pk: int):
    routine = selectors.routine_get_for_settings(user=request.user, pk=pk)
    form = RoutineUpdateForm(request.POST, prefix=f"r{routine.pk}")
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    try:
        services.routine_update(acting_user=request.user, routine=routine, **form.cleaned_data)
    except services.SettingsError as error:
        return refusal(request, str(error), status=400)
    return _routines_answer(request, routine.stage, message=_("Follow-up routine saved."))


@login_required
@require_POST
def routine_delete(request, pk: int):
    routine = selectors.routine_get_for_settings(user=request.user, pk=pk)
    services.routine_delete(acting_user=request.user, routine=routine)
    return _routines_answer(request, routine.stage, message=_("Follow-up routine removed."))


@login_required
@require_POST
def routine_move(request, pk: int):
    routine = selectors.routine_get_for_settings(user=request.user, pk=pk)
    form = DirectionForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    services.routine_move(
        acting_user=request.user, routine=routine, direction=form.cleaned_data["direction"]
    )
    return _routines_answer(request, routine.stage, message=_("Order saved."))


# --- lost reasons and product areas -------------------------------------------------------


@dataclass(frozen=True)
class AdminList:
    """What differs between the admin-managed lists (`pipeline.models.AdminListEntry`): the
    pages, forms, views, selectors and services are the same for each."""

    key: str  # URL name stem: "lost-reason" -> settings-lost-reasons, settings-lost-reason-…
    model: type
    title: str
    intro: str
    empty: str
    placeholder: str
    retired_note: str
    add_label: str

    def entries(self, user):
        return selectors.admin_list_for_settings(user=user, model=self.model)

    def get(self, user, pk):
        return selectors.admin_list_entry_get_for_settings(user=user, model=self.model, pk=pk)


LOST_REASONS = AdminList(
    key="lost-reason",
    model=LostReason,
    title=gettext_lazy("Lost reasons"),
    intro=gettext_lazy(
        "Offered when a deal is marked lost, in this order. Retired reasons are no longer "
        "offered; deals lost for them keep them."
    ),
    empty=gettext_lazy("No lost reasons yet. Add the reasons your team loses deals for."),
    placeholder=gettext_lazy("e.g. Price too high"),
    retired_note=gettext_lazy("Not offered when marking a deal lost"),
    add_label=gettext_lazy("New lost reason"),
)
PRODUCT_AREAS = AdminList(
    key="product-area",
    model=ProductArea,
    title=gettext_lazy("Product areas"),
    intro=gettext_lazy(
        "The product lines deals are about, used to slice the loss analysis. Retired areas "
        "are no longer offered; deals that have one keep it."
    ),
    empty=gettext_lazy("No product areas yet. Add the product lines you sell."),
    placeholder=gettext_lazy("e.g. Warehouse software"),
    retired_note=gettext_lazy("Not offered for deals"),
    add_label=gettext_lazy("New product area"),
)


def _list_page(request, kind: AdminList, *, form=None, status=200, focus=None):
    context = {
        "kind": kind,
        "entries": kind.entries(request.user),
        "form": form or ListEntryForm(),
        "focus": focus,
        "list_url": reverse(f"settings-{kind.key}s"),
    }
    template = "settings/list_page.html"
    if request.htmx:
        template += "#list-panel"
    return render(request, template, context, status=status)


def _list_done(request, kind: AdminList, message: str, *, focus=None):
    if request.htmx:
        return _list_page(request, kind, focus=focus)
    return _done(request, message, reverse(f"settings-{kind.key}s"))


# The six views below serve both lists: the URLs pass `kind` (pipeline/urls/settings.py).


@login_required
@require_http_methods(["GET", "POST"])
def list_index(request, kind: AdminList):
    settings_access(user=request.user)
    if request.method == "GET":
        return _list_page(request, kind)
    form = ListEntryForm(request.POST)
    if form.is_valid():
        try:
            services.list_entry_create(
                acting_user=request.user, model=kind.model, name=form.cleaned_data["name"]
            )
        except services.SettingsError as error:
            form.add_error("name", str(error))
        else:
            return _list_done(request, kind, _("Added."))
    return _list_page(request, kind, form=form, status=400)


@login_required
@require_POST
def list_rename(request, kind: AdminList, pk: int):
    entry = kind.get(request.user, pk)
    form = ListEntryForm(request.POST, prefix=f"e{entry.pk}")
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    try:
        services.list_entry_rename(
            acting_user=request.user, entry=entry, name=form.cleaned_data["name"]
        )
    except services.SettingsError as error:
        return refusal(request, str(error), status=400)
    return _list_done(request, kind, _("Renamed."))


@login_required
@require_POST
def list_move(request, kind: AdminList, pk: int):
    entry = kind.get(request.user, pk)
    form = DirectionForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    direction = form.cleaned_data["direction"]
    services.list_entry_move(acting_user=request.user, entry=entry, direction=direction)
    return _list_done(request, kind, _("Order saved."), focus={"pk": pk, "direction": direction})


@login_required
@require_POST
def list_reorder(request, kind: AdminList):
    settings_access(user=request.user)
    form = OrderForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    try:
        services.list_entries_reorder(
            acting_user=request.user, model=kind.model, entry_ids=form.cleaned_data["order"]
        )
    except services.SettingsError as error:
        return refusal(request, str(error), status=400)
    return _list_done(request, kind, _("Order saved."))


@login_required
@require_POST
def list_set_active(request, kind: AdminList, pk: int, *, active: bool):
    entry = kind.get(request.user, pk)
    services.list_entry_set_active(acting_user=request.user, entry=entry, active=active)
    message = _("“%(name)s” is offered again.") if active else _("“%(name)s” is retired.")
    return _list_done(request, kind, message % {"name": entry.name})
