"""Import pages: upload, mapping, preview, start, progress and result, history, undo."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import access_for
from accounts.selectors import users_of_team
from crm import selectors
from crm.forms.imports import (
    ImportMappingForm,
    ImportUploadForm,
    owner_targets,
    stage_targets,
)
from crm.importing import headers as h
from crm.importing.errors import ImportFileError
from crm.importing.records import FileProfile, column_readings
from crm.models import ImportBatch, ImportKind, ImportStatus
from crm.services import imports as import_services
from crm.web.refusals import refusal
from pipeline.models import Stage

# The multipart envelope around a file at the limit (boundaries, the other fields).
UPLOAD_SLACK_BYTES = 64 * 1024
PROBLEMS_SHOWN = 200
PAGE_SIZE = 25
# Number and date fields, whose reading the mapping page offers to turn round.
NUMBER_FIELDS = {"value"}
DATE_FIELDS = {"expected_close_date", "created_at", "closed_at", "next_step_due"}


def _oversized(request):
    """413 before the body is read, for an upload beyond the settings' limit."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > settings.IMPORT_MAX_BYTES + UPLOAD_SLACK_BYTES:
        message = _("The file is too large; the limit is %(limit)s MB.") % {
            "limit": round(settings.IMPORT_MAX_BYTES / 2**20, 1)
        }
        return refusal(request, message, status=413)
    return None


def _pipeline_for(user, pk):
    pipeline = selectors.import_pipelines_for_user(user=user).filter(pk=pk).first()
    if pipeline is None:
        raise Http404
    return pipeline


def _team_for(user, pk):
    team = selectors.import_teams_for_user(user=user).filter(pk=pk).first()
    if team is None:
        raise Http404
    return team


def _initial_upload(request) -> dict:
    """The upload form's first values, from the link that led here (a list's "Import", a
    board's, the set-up wizard's): another team's pipeline or team is "not found"."""
    initial = {}
    kind = request.GET.get("kind", "")
    if kind in ImportKind.values:
        initial["kind"] = kind
    for name, door in (("pipeline", _pipeline_for), ("team", _team_for)):
        raw = request.GET.get(name, "")
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                raise Http404
            initial[name] = door(request.user, int(raw)).pk
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def import_start(request):
    """Upload: what the file holds, where it goes, the file. Then the mapping."""
    refused = _oversized(request)
    if refused is not None:
        return refused
    pipelines = list(selectors.import_pipelines_for_user(user=request.user))
    teams = list(selectors.import_teams_for_user(user=request.user))
    form = ImportUploadForm(
        request.POST or None, request.FILES or None, initial=_initial_upload(request)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = data["kind"]
        pipeline = team = None
        if kind == ImportKind.DEALS:
            pipeline = _pipeline_for(request.user, data["pipeline"])
        elif data.get("team"):
            team = _team_for(request.user, data["team"])
        elif len(teams) == 1:
            team = teams[0]
        else:
            form.add_error("team", _("Choose the team to import into."))
        if not form.errors:
            try:
                batch = import_services.import_batch_create(
                    acting_user=request.user,
                    kind=kind,
                    upload=data["file"],
                    file_name=data["file"].name,
                    team=team,
                    pipeline=pipeline,
                )
            except ImportFileError as error:
                form.add_error("file", error.message)
            else:
                return redirect("import-map", batch.pk)
    context = {
        "form": form,
        "pipelines": pipelines,
        "teams": teams,
        "limit_mb": round(settings.IMPORT_MAX_BYTES / 2**20),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "crm/import_start.html", context, status=status)


def _unfinished(request, pk: int) -> ImportBatch | None:
    """The batch to map, preview or start: the uploader's (or an admin's); None once it ran."""
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk, write=True)
    if batch.status not in (ImportStatus.UPLOADED, ImportStatus.FAILED):
        return None
    return batch


def _readings(batch: ImportBatch) -> list:
    profile = FileProfile.from_dict(batch.profile)
    return column_readings(
        profile,
        number_styles={int(k): v for k, v in batch.mapping.get("number_styles", {}).items()},
        date_orders={int(k): v for k, v in batch.mapping.get("date_orders", {}).items()},
    )


def _mapping_context(request, batch: ImportBatch, form: ImportMappingForm) -> dict:
    profile = FileProfile.from_dict(batch.profile)
    readings = _readings(batch)
    columns = []
    for index, header in enumerate(batch.headers):
        column = profile.columns[index]
        columns.append(
            {
                "index": index,
                "header": header,
                "samples": column.samples,
                "filled": column.filled,
                "field": form[f"column_{index}"],
                "number": form[f"number_{index}"],
                "date": form[f"date_{index}"],
                "reading": readings[index],
                "ignored_reason": h.ignored_reason(header),
            }
        )
    stages, too_many_stages = import_services.stage_choices(batch=batch, acting_user=request.user)
    owners, too_many_owners = import_services.owner_choices(batch=batch, acting_user=request.user)
    return {
        "batch": batch,
        "form": form,
        "columns": columns,
        "stages": stages,
        "too_many_stages": too_many_stages,
        "stage_targets": form.stage_target_list,
        "owners": owners,
        "too_many_owners": too_many_owners,
        "owner_targets": form.owner_target_list,
        "number_fields": NUMBER_FIELDS,
        "date_fields": DATE_FIELDS,
        "source_label": h.SOURCE_LABELS.get(batch.source_system, ""),
        "routine_stages": _routine_stages(batch),
    }


def _routine_stages(batch: ImportBatch) -> list[str]:
    if not batch.pipeline_id:
        return []
    stages = Stage.objects.active().filter(pipeline_id=batch.pipeline_id, has_routines=True)
    return list(stages.values_list("name", flat=True))


def _mapping_form(request, batch: ImportBatch, data=None) -> ImportMappingForm:
    stages = []
    if batch.pipeline_id:
        stages = list(Stage.objects.active().filter(pipeline_id=batch.pipeline_id))
    members = list(users_of_team(team_id=batch.team_id))
    manages = access_for(request.user).manages_team(batch.team_id)
    mapping = batch.mapping
    initial = {}
    for index, key in enumerate(mapping.get("columns", [])):
        initial[f"column_{index}"] = key
    for index, value in mapping.get("number_styles", {}).items():
        initial[f"number_{index}"] = value
    for index, value in mapping.get("date_orders", {}).items():
        initial[f"date_{index}"] = value
    initial["routines"] = bool(mapping.get("routines"))
    first = mapping.get("first_step")
    if first:
        initial.update(
            first_step=True, first_step_subject=first["subject"], first_step_days=first["days"]
        )
    return ImportMappingForm(
        data,
        initial=initial,
        batch=batch,
        stage_targets=stage_targets(stages),
        owner_targets=owner_targets(members, may_leave_unassigned=manages),
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_map(request, pk: int):
    """Map the columns, the stage and owner names, how numbers and dates are read, and the
    first next step. A change of a column's field (htmx) saves the draft and redraws the
    form, whose stage and owner lists depend on it; "Preview" saves and moves on."""
    batch = _unfinished(request, pk)
    if batch is None:
        return redirect("import-detail", pk)
    form = _mapping_form(request, batch, request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                import_services.import_batch_map(
                    acting_user=request.user, batch=batch, mapping=form.mapping()
                )
            except import_services.ImportRefused as error:
                form.add_error(None, error.message)
            else:
                if "refresh" not in request.POST:
                    return redirect("import-preview", pk)
                form = _mapping_form(request, batch)
        if form.errors:
            status = 400
    template = "crm/import_map.html#mapping" if request.htmx else "crm/import_map.html"
    return render(request, template, _mapping_context(request, batch, form), status=status)


@login_required
@require_GET
def import_preview(request, pk: int):
    """A dry run of the whole file: what will be created, updated and left alone, and every
    problem by row and column."""
    batch = _unfinished(request, pk)
    if batch is None:
        return redirect("import-detail", pk)
    result = import_services.import_preview(acting_user=request.user, batch=batch)
    mapped = batch.mapping.get("columns", [])
    readings = []
    for index, key in enumerate(mapped):
        reading = result.readings[index]
        if key in NUMBER_FIELDS:
            readings.append((batch.headers[index], "number", reading.number))
        elif key in DATE_FIELDS:
            readings.append((batch.headers[index], "date", reading.date))
    columns = [(i, batch.headers[i], key) for i, key in enumerate(mapped) if key]
    fields = h.FIELD_BY_KEY[batch.kind]
    preview_rows = [
        {
            "row": row.row,
            "action": row.action,
            "note": row.note,
            "row_problem": row.problems.get(""),
            "mapped": [
                {
                    "value": row.cells[i] if i < len(row.cells) else "",
                    "problem": row.problems.get(header),
                }
                for i, header, _key in columns
            ],
        }
        for row in result.preview
    ]
    context = {
        "batch": batch,
        "result": result,
        "preview_rows": preview_rows,
        "mapped_columns": [(header, fields[key].label) for _i, header, key in columns],
        "problems": result.problems[:PROBLEMS_SHOWN],
        "more_problems": max(result.problem_count - PROBLEMS_SHOWN, 0),
        "readings": readings,
        "importable": result.created + result.updated,
        "source_label": h.SOURCE_LABELS.get(batch.source_system, ""),
    }
    return render(request, "crm/import_preview.html", context)


@login_required
@require_POST
def import_run(request, pk: int):
    """Start the import (at once when small, else on a worker) and show its progress."""
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk, write=True)
    try:
        import_services.import_batch_start(acting_user=request.user, batch=batch)
    except import_services.ImportBusy as error:
        messages.warning(request, error.message)
    return redirect("import-detail", pk)


@login_required
@require_GET
def import_detail(request, pk: int):
    """An import's progress (polled while it runs; a reload shows the same) and result."""
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk)
    batch.progress_done = selectors.import_progress(batch=batch)
    context = {
        "batch": batch,
        "may_undo": import_services.may_undo(user=request.user, batch=batch),
        "may_continue": batch.user_id == request.user.pk or access_for(request.user).is_admin,
        "problems": batch.problems[:PROBLEMS_SHOWN],
        "more_problems": max(batch.problem_count - PROBLEMS_SHOWN, 0),
        "progress_known": batch.progress_done > 0,
        "records_url": _records_url(batch),
    }
    polling = request.htmx and request.htmx.target == "import-status"
    template = "crm/import_detail.html#status" if polling else "crm/import_detail.html"
    return render(request, template, context)


def _records_url(batch: ImportBatch) -> str:
    if batch.kind == ImportKind.DEALS and batch.pipeline_id:
        return reverse("board", args=[batch.pipeline_id])
    if batch.kind == ImportKind.CONTACTS:
        return reverse("contact-list")
    return reverse("company-list")


@login_required
@require_POST
def import_undo(request, pk: int):
    """Remove what the import created (managers of its team and admins)."""
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk)
    import_services.import_batch_undo(acting_user=request.user, batch=batch)
    messages.success(request, _("The import of “%(file)s” was undone.") % {"file": batch.file_name})
    return redirect("import-list")


@login_required
@require_GET
def import_list(request):
    """The import history the user may see, with undo where they may."""
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or len(raw) > 6:
        return refusal(request, _("There is no such page."), status=400)
    page = Paginator(selectors.import_batches_for_user(user=request.user), PAGE_SIZE).get_page(
        int(raw)
    )
    access = access_for(request.user)
    undoable = {
        b.pk
        for b in page.object_list
        if b.status == ImportStatus.DONE and access.manages_team(b.team_id)
    }
    context = {"page": page, "undoable": undoable, "query": ""}
    return render(request, "crm/import_list.html", context)
