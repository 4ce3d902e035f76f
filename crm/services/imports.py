"""Imports: upload a file, map its columns, preview, run it as one batch, undo it.

The steps, each a service here:

- `import_batch_create`: check the file (`crm.importing.files`: size, type, archive limits,
  a header row), read it once to profile its columns, and keep it (in pieces, in the
  database, so any process can run the import) with a first mapping from its headers.
- `import_batch_map`: the user's mapping (a field per column, stage and owner names, how
  numbers and dates are read, the first next step), validated against the batch's pipeline
  and team.
- `import_preview`: a dry run of the whole file with the import's own code
  (`crm.services.import_rows`): what will be created, updated and left alone, and every
  problem by row and column. Writes nothing.
- `import_batch_start`: small files run at once; larger ones go to a worker (Celery); if the
  broker cannot be reached the batch stays queued and `imports_resume` starts it later.
- `import_batch_run`: the import itself, in ONE transaction: everything lands or nothing
  does. Its progress is written through a connection of its own (PostgreSQL), so the page
  of any process shows it while the transaction is open.
- `import_batch_undo`: removes exactly what the batch created (managers of its team and
  admins); refused when someone has changed those records since, or hung other records on
  them (see the docstring).
- `import_records`: everything at once for the command line (`manage.py import_records`).

Access (docs/product.md): a salesperson and a manager import into the pipelines (deals) and
teams (companies, contacts) they belong to, an admin anywhere; undo is for managers of the
batch's team and admins.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import Team, User
from crm.broker import enqueue
from crm.importing import headers as h
from crm.importing.errors import ImportFileError, Problem
from crm.importing.files import Table, open_table
from crm.importing.records import FileProfile, profile_columns
from crm.importing.values import DATE_ORDERS, NUMBER_STYLES
from crm.models import (
    Company,
    Contact,
    ImportBatch,
    ImportFileChunk,
    ImportKind,
    ImportStatus,
    Note,
)
from crm.rules import RuleError
from crm.selectors.imports import progress_cache_key
from crm.services.import_rows import (
    LOST,
    ME,
    NOBODY,
    WON,
    ImportResult,
    ImportRun,
    Owners,
    RunSettings,
    Stages,
)
from crm.transactions import atomic_with_retry
from pipeline.models import Deal, Flag, Pipeline, StageChange
from pipeline.services.analytics import analytics_forget_matching
from pipeline.services.deals import stage_totals_rebuild
from pipeline.services.imports import FirstStep
from pipeline.services.locks import _lock_stages
from pipeline.services.notifications import flag_summaries_prune
from webhooks.models import EventType
from webhooks.services.events import event_record

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
# How long a queued import may wait, or a running one go without progress, before
# `imports_resume` hands it to a worker again.
RESUME_QUEUED_AFTER = timedelta(minutes=2)
RESUME_RUNNING_AFTER = timedelta(minutes=10)
MAX_FIRST_STEP_DAYS = 60
PROGRESS_CACHE_SECONDS = 3600


class ImportRefused(RuleError):
    """A refusal of an import step (bad mapping, wrong state, undo not possible)."""


class ImportConflict(ImportRefused):
    """Undoing would lose work done on the batch's records since (409)."""

    status = 409


class ImportBusy(RuleError):
    """The import cannot start now (its worker cannot be reached and it is too large to run
    in the request)."""

    status = 503


# --- who may import where ------------------------------------------------------------------


def may_import_into_team(*, user: User, team_id: int) -> bool:
    access = access_for(user)
    return access.is_admin or team_id in access.team_ids


def may_undo(*, user: User, batch: ImportBatch) -> bool:
    return access_for(user).manages_team(batch.team_id)


def _check_target(*, acting_user: User, kind: str, team: Team | None, pipeline: Pipeline | None):
    if kind == ImportKind.DEALS:
        if pipeline is None:
            raise ImportRefused(
                _("Choose the pipeline to import the deals into."), field="pipeline"
            )
        if pipeline.is_archived:
            raise ImportRefused(_("That pipeline is archived."), field="pipeline")
        team = pipeline.team
    if team is None:
        raise ImportRefused(_("Choose the team to import into."), field="team")
    if not may_import_into_team(user=acting_user, team_id=team.pk):
        raise PermissionDenied(_("You may import only into your own teams."))
    return team


# --- the file, kept in the database ----------------------------------------------------------


def _store_file(batch: ImportBatch, file: BinaryIO) -> None:
    file.seek(0)
    position = 0
    while data := file.read(CHUNK_BYTES):
        ImportFileChunk.objects.create(batch=batch, position=position, data=data)
        position += 1


@contextmanager
def batch_file(batch: ImportBatch) -> Iterator[BinaryIO]:
    """The batch's file as a temporary file, written from its pieces one at a time."""
    with tempfile.TemporaryFile() as file:
        pieces = ImportFileChunk.objects.filter(batch=batch).order_by("position")
        for data in pieces.values_list("data", flat=True).iterator(chunk_size=1):
            file.write(data)
        if file.tell() == 0:
            raise ImportRefused(_("The file of this import is no longer kept; upload it again."))
        file.seek(0)
        yield file


@contextmanager
def _spooled(upload) -> Iterator[BinaryIO]:
    """An uploaded file as a seekable binary file on disk (Django keeps small uploads in
    memory; reading in pieces keeps memory flat either way)."""
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        with open(path(), "rb") as file:
            yield file
        return
    with tempfile.TemporaryFile() as file:
        upload.seek(0)
        shutil.copyfileobj(upload, file, CHUNK_BYTES)
        file.seek(0)
        yield file


def read_table(file: BinaryIO) -> tuple[Table, FileProfile]:
    """The file's table and its columns' profile, or ImportFileError."""
    table = open_table(file, max_bytes=settings.IMPORT_MAX_BYTES)
    try:
        profile = profile_columns(table, max_rows=settings.IMPORT_MAX_ROWS)
    except ImportFileError:
        raise
    except (zlib.error, EOFError, OSError, ValueError, KeyError) as error:
        raise ImportFileError(_("The file is damaged and could not be read to its end.")) from error
    if profile.rows == 0:
        raise ImportFileError(_("The file has a header row but no rows to import."))
    return table, profile


# --- upload ---------------------------------------------------------------------------------


def import_batch_create(
    *,
    acting_user: User,
    kind: str,
    upload,
    file_name: str,
    team: Team | None = None,
    pipeline: Pipeline | None = None,
) -> ImportBatch:
    """Check an uploaded file and keep it as a new batch, with a first mapping proposed from
    its headers. Nothing else changes. Refused (ImportFileError, 400) for a file that cannot
    be imported; PermissionDenied for a team or pipeline that is not the user's to import
    into (the caller reads the pipeline through its access door). Not idempotent: every
    upload is a new batch."""
    team = _check_target(acting_user=acting_user, kind=kind, team=team, pipeline=pipeline)
    size = getattr(upload, "size", None)
    if size is not None and size > settings.IMPORT_MAX_BYTES:
        raise ImportFileError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": round(size / 2**20, 1), "limit": round(settings.IMPORT_MAX_BYTES / 2**20, 1)}
        )
    with _spooled(upload) as file:
        table, profile = read_table(file)
        return _batch_save(
            acting_user=acting_user,
            kind=kind,
            team=team,
            pipeline=pipeline if kind == ImportKind.DEALS else None,
            file_name=file_name,
            file=file,
            table=table,
            profile=profile,
        )


@atomic_with_retry
def _batch_save(*, acting_user, kind, team, pipeline, file_name, file, table, profile):
    file.seek(0, 2)
    batch = ImportBatch.objects.create(
        kind=kind,
        user=acting_user,
        team=team,
        pipeline=pipeline,
        file_name=file_name[:255],
        file_size=file.tell(),
        file_format=table.format,
        encoding=table.encoding,
        delimiter=table.delimiter,
        source_system=h.detect_source(table.headers),
        headers=table.headers,
        profile=profile.as_dict(),
        row_count=profile.rows,
        mapping=default_mapping(kind=kind, headers=table.headers),
    )
    _store_file(batch, file)
    return batch


def default_mapping(*, kind: str, headers: list[str]) -> dict:
    return {
        "columns": h.recognise(headers, kind),
        "number_styles": {},
        "date_orders": {},
        "stages": {},
        "owners": {},
        "first_step": None,
        # New deals enter their stage as `deal_create` has them do: its routines apply.
        "routines": kind == ImportKind.DEALS,
    }


# --- mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameChoice:
    """A name in the file (a stage or an owner), how often it appears, and what it maps to
    (the user's choice, else the automatic match; None: not matched)."""

    name: str
    count: int
    target: int | str | None
    automatic: bool


def _column_values(batch: ImportBatch, keys: tuple[str, ...]) -> tuple[dict[str, int], bool]:
    """The distinct values of the columns mapped to `keys`, with their counts, and whether
    any of those columns has too many to list."""
    profile = FileProfile.from_dict(batch.profile)
    values: dict[str, int] = {}
    too_many = False
    for index, key in enumerate(batch.mapping.get("columns", [])):
        if key in keys and index < len(profile.columns):
            column = profile.columns[index]
            too_many |= column.too_many_distinct
            for value, count in column.distinct.items():
                values[value] = values.get(value, 0) + count
    return values, too_many


def _run_settings(batch: ImportBatch, *, acting_user: User) -> RunSettings:
    mapping = batch.mapping
    first = mapping.get("first_step")
    return RunSettings(
        kind=batch.kind,
        acting_user=acting_user,
        team=batch.team,
        pipeline=batch.pipeline,
        headers=batch.headers,
        profile=FileProfile.from_dict(batch.profile),
        columns=mapping.get("columns", []),
        source_system=batch.source_system or h.FILE,
        number_styles={int(k): v for k, v in mapping.get("number_styles", {}).items()},
        date_orders={int(k): v for k, v in mapping.get("date_orders", {}).items()},
        stages=mapping.get("stages", {}),
        owners=mapping.get("owners", {}),
        first_step=FirstStep(subject=first["subject"], days=first["days"]) if first else None,
        apply_routines=bool(mapping.get("routines")) and batch.kind == ImportKind.DEALS,
        batch_id=batch.pk,
    )


def stage_choices(*, batch: ImportBatch, acting_user: User) -> tuple[list[NameChoice], bool]:
    """The stage names of a deals file and what each maps to; and whether the file has too
    many to map by hand (then each is matched by name)."""
    if batch.kind != ImportKind.DEALS:
        return [], False
    values, too_many = _column_values(batch, ("stage",))
    stages = Stages(_run_settings(batch, acting_user=acting_user))
    chosen = batch.mapping.get("stages", {})
    return [
        NameChoice(name, count, chosen.get(name, stages.auto(name)), name not in chosen)
        for name, count in sorted(values.items(), key=lambda item: (-item[1], item[0]))
    ], too_many


def owner_choices(*, batch: ImportBatch, acting_user: User) -> tuple[list[NameChoice], bool]:
    """The owner names of a file and whom each maps to (unmatched: the importing user)."""
    if batch.kind == ImportKind.CONTACTS:
        return [], False
    values, too_many = _column_values(batch, ("owner", "owner_email"))
    owners = Owners(_run_settings(batch, acting_user=acting_user))
    chosen = batch.mapping.get("owners", {})
    return [
        NameChoice(name, count, chosen.get(name, owners.auto(name)), name not in chosen)
        for name, count in sorted(values.items(), key=lambda item: (-item[1], item[0]))
    ], too_many


def _check_mapping(batch: ImportBatch, mapping: dict, *, acting_user: User) -> dict:
    """The mapping, validated and normalised; ImportRefused for anything off."""
    fields = h.FIELD_BY_KEY[batch.kind]
    columns = list(mapping.get("columns", []))
    if len(columns) != len(batch.headers) or any(c and c not in fields for c in columns):
        raise ImportRefused(_("The columns' mapping does not fit this file."))
    taken = [c for c in columns if c and not fields[c].joins]
    if len(taken) != len(set(taken)):
        twice = sorted({str(fields[c].label) for c in taken if taken.count(c) > 1})
        raise ImportRefused(
            _("Each field can take one column only: %(fields)s.") % {"fields": ", ".join(twice)}
        )
    required = [f for f in fields.values() if f.required and f.key not in columns]
    if batch.kind == ImportKind.CONTACTS:
        if not {"name", "first_name", "last_name", "email"} & set(columns):
            raise ImportRefused(_("Map a column to the contact's name or e-mail."))
        if not {"company_name", "company_domain"} & set(columns):
            raise ImportRefused(_("Map a column to the contact's company."))
    if required:
        raise ImportRefused(
            _("Map a column to %(field)s; it is required.") % {"field": required[0].label}
        )
    width = len(batch.headers)

    def per_column(name: str, allowed) -> dict[str, str]:
        chosen = {}
        for key, value in (mapping.get(name) or {}).items():
            if not str(key).isdigit() or int(key) >= width or value not in allowed:
                raise ImportRefused(_("That way of reading a column is not known."))
            chosen[str(int(key))] = value
        return chosen

    settings_ = _run_settings(batch, acting_user=acting_user)
    stages = {}
    if batch.kind == ImportKind.DEALS:
        valid = set(Stages(settings_).by_id) | {WON, LOST}
        for name, target in (mapping.get("stages") or {}).items():
            if target not in valid:
                raise ImportRefused(
                    _("Choose one of this pipeline's stages for “%(name)s”.") % {"name": name}
                )
            stages[str(name)[:200]] = target
    owners = {}
    members = set(Owners(settings_).members)
    manages = access_for(acting_user).manages_team(batch.team_id)
    for name, target in (mapping.get("owners") or {}).items():
        if target == NOBODY and not manages:
            raise ImportRefused(_("Only a manager can leave imported records unassigned."))
        if target not in (ME, NOBODY) and target not in members:
            raise ImportRefused(
                _("“%(name)s” can only be given to a member of the team.") % {"name": name}
            )
        owners[str(name)[:254]] = target
    first_step = mapping.get("first_step")
    if first_step is not None:
        subject = str(first_step.get("subject", "")).strip()
        days = first_step.get("days")
        if batch.kind != ImportKind.DEALS or not subject or len(subject) > 200:
            raise ImportRefused(_("Give the first next step a short description."))
        if not isinstance(days, int) or not 0 <= days <= MAX_FIRST_STEP_DAYS:
            raise ImportRefused(
                _("The first next step is due in 0 to %(days)s working days.")
                % {"days": MAX_FIRST_STEP_DAYS}
            )
        first_step = {"subject": subject, "days": days}
    return {
        "columns": columns,
        "number_styles": per_column("number_styles", NUMBER_STYLES),
        "date_orders": per_column("date_orders", DATE_ORDERS),
        "stages": stages,
        "owners": owners,
        "first_step": first_step,
        "routines": bool(mapping.get("routines")) and batch.kind == ImportKind.DEALS,
    }


def _lock_batch(batch: ImportBatch, *, states: tuple[str, ...]) -> ImportBatch:
    locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status not in states:
        raise ImportRefused(_("This import has already run; upload the file again to redo it."))
    return locked


@atomic_with_retry
def import_batch_map(*, acting_user: User, batch: ImportBatch, mapping: dict) -> bool:
    """Save the user's mapping of a batch not yet run; returns whether it changed.
    Assumes the caller may continue the batch (`import_batch_get_for_user(write=True)`).
    Idempotent."""
    locked = _lock_batch(batch, states=(ImportStatus.UPLOADED, ImportStatus.FAILED))
    clean = _check_mapping(locked, mapping, acting_user=acting_user)
    if clean == locked.mapping:
        return False
    locked.mapping = batch.mapping = clean
    locked.save(update_fields=["mapping"])
    return True


# --- preview ---------------------------------------------------------------------------------


def import_preview(*, acting_user: User, batch: ImportBatch, rows: int = 20) -> ImportResult:
    """A dry run of the whole file with its mapping: the counts of what would be created,
    updated, left unchanged and left out, every problem by row and column, the first `rows`
    rows with what happens to each, and how each column's numbers and dates are read.
    Writes nothing. Assumes the caller may see the batch."""
    with batch_file(batch) as file:
        table = open_table(file, max_bytes=settings.IMPORT_MAX_BYTES)
        run = ImportRun(
            _run_settings(batch, acting_user=acting_user), dry_run=True, preview_rows=rows
        )
        return run.execute(table)


# --- running --------------------------------------------------------------------------------


def import_batch_start(*, acting_user: User, batch: ImportBatch) -> ImportBatch:
    """Start a mapped batch: at once when it is small (`IMPORT_INLINE_ROWS`), else on a
    worker. When the broker cannot be reached the batch stays queued (the periodic
    `imports_resume` starts it once the broker is back) and the user is told so (ImportBusy).
    Assumes the caller may continue the batch. Idempotent: a batch already queued, running
    or done is left alone."""
    queued = _queue(batch=batch, acting_user=acting_user)
    if not queued:
        return ImportBatch.objects.get(pk=batch.pk)
    if batch.row_count <= settings.IMPORT_INLINE_ROWS:
        return import_batch_run(batch_id=batch.pk)
    if not enqueue("crm.import_run", batch.pk):
        raise ImportBusy(
            _(
                "The background worker cannot be reached just now. The import is queued and "
                "starts by itself once it is back; nothing has been imported yet."
            )
        )
    return ImportBatch.objects.get(pk=batch.pk)


@atomic_with_retry
def _queue(*, batch: ImportBatch, acting_user: User) -> bool:
    locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status not in (ImportStatus.UPLOADED, ImportStatus.FAILED):
        return False
    _check_mapping(locked, locked.mapping, acting_user=acting_user)
    locked.status = ImportStatus.QUEUED
    locked.queued_at = timezone.now()
    locked.error_message = ""
    locked.progress_done = 0
    locked.progress_at = None
    locked.save(
        update_fields=["status", "queued_at", "error_message", "progress_done", "progress_at"]
    )
    return True


class ProgressWriter:
    """Writes a running import's progress where other processes see it while the import's
    transaction is open. On PostgreSQL: to its batch, through a database connection of its
    own, in autocommit. The import never locks or updates its batch row before its last
    write (it only points at it, which takes a key-share lock that this update does not
    wait for), and a lock timeout keeps a surprise from ever stopping the import: progress
    is then skipped. On SQLite, which allows one writer, to the shared cache
    (`crm.selectors.imports.import_progress` reads either)."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.connection = None
        if connection.vendor == "postgresql":
            self.connection = connections.create_connection("default")

    def __call__(self, done: int) -> None:
        if self.connection is None:
            try:
                cache.set(progress_cache_key(self.batch_id), done, PROGRESS_CACHE_SECONDS)
            except Exception:  # noqa: BLE001 - a cache outage only hides the percentage
                logger.warning("import %s: progress not cached", self.batch_id, exc_info=True)
            return
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
                cursor.execute(
                    f"UPDATE {ImportBatch._meta.db_table} SET progress_done = %s, "
                    "progress_at = %s WHERE id = %s",
                    [done, timezone.now(), self.batch_id],
                )
        except Exception:  # noqa: BLE001 - progress is a courtesy, never a reason to fail
            logger.warning("import %s: progress not written", self.batch_id, exc_info=True)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def import_batch_run(*, batch_id: int) -> ImportBatch:
    """Run a queued (or interrupted) batch: all of it in one transaction, or nothing. Marks
    it running first (committed, for the page), then imports; a failure rolls everything
    back and marks the batch failed with a message (it can be started again). Idempotent:
    a batch that is done, or being run by another process right now, is left alone (the
    run holds a lock on the batch for its whole transaction)."""
    if not _claim(batch_id):
        return ImportBatch.objects.get(pk=batch_id)
    progress = ProgressWriter(batch_id)
    try:
        _run_claimed(batch_id, progress)
    except Exception as error:
        _fail(batch_id, error)
    finally:
        progress.close()
    return ImportBatch.objects.get(pk=batch_id)


@atomic_with_retry
def _claim(batch_id: int) -> bool:
    batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None or batch.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return False
    if batch.status == ImportStatus.QUEUED:
        batch.status = ImportStatus.RUNNING
        batch.progress_at = timezone.now()
        batch.save(update_fields=["status", "progress_at"])
    return True


def _guard(batch_id: int) -> bool:
    """Whether this transaction may run the batch: no other run holds it (PostgreSQL: a
    transaction-level advisory lock; SQLite has one writer at a time anyway)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [1_701_015, batch_id])
        return bool(cursor.fetchone()[0])


@atomic_with_retry
def _run_claimed(batch_id: int, progress: ProgressWriter) -> None:
    if not _guard(batch_id):
        return
    batch = ImportBatch.objects.select_related("team", "pipeline", "user").get(pk=batch_id)
    if batch.status != ImportStatus.RUNNING:
        return
    if batch.user is None or not batch.user.is_active:
        raise ImportRefused(_("The person who uploaded this import can no longer sign in."))
    acting_user = batch.user
    if not may_import_into_team(user=acting_user, team_id=batch.team_id):
        raise ImportRefused(_("The person who uploaded this import is no longer in its team."))
    with batch_file(batch) as file:
        table = open_table(file, max_bytes=settings.IMPORT_MAX_BYTES)
        run = ImportRun(
            _run_settings(batch, acting_user=acting_user), dry_run=False, progress=progress
        )
        result = run.execute(table)
    _finish(batch, result)


def _finish(batch: ImportBatch, result: ImportResult) -> None:
    """Record the outcome (in the import's transaction, so it lands with the records)."""
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportStatus.DONE,
        created_count=result.created,
        updated_count=result.updated,
        unchanged_count=result.unchanged,
        skipped_count=result.skipped,
        related_created=dict(result.related),
        problems=[p.as_dict() for p in result.problems],
        problem_count=result.problem_count,
        progress_done=result.rows,
        progress_at=timezone.now(),
        finished_at=timezone.now(),
        error_message="",
    )
    ImportFileChunk.objects.filter(batch_id=batch.pk).delete()
    if result.created or result.updated:
        transaction.on_commit(lambda: enqueue("crm.tiers_recompute"))
        # One event for the whole batch, not one per row (docs/decisions.md): receivers read
        # the records it changed through the API.
        event_record(
            EventType.IMPORT_COMPLETED,
            team_id=batch.team_id,
            data=lambda: {"import": _import_event_data(batch, result)},
        )


def _import_event_data(batch: ImportBatch, result: ImportResult) -> dict:
    return {
        "id": batch.pk,
        "kind": batch.kind,
        "team_id": batch.team_id,
        "pipeline_id": batch.pipeline_id,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": result.skipped,
        "related_created": dict(result.related),
        "started_at": batch.queued_at.isoformat() if batch.queued_at else None,
    }


def _fail(batch_id: int, error: Exception) -> None:
    if isinstance(error, RuleError):
        message = error.message
    else:
        logger.exception("import %s failed", batch_id)
        message = _("The import stopped on an unexpected error; nothing was imported.")
    ImportBatch.objects.filter(pk=batch_id).update(
        status=ImportStatus.FAILED, error_message=message, finished_at=timezone.now()
    )


def imports_resume(*, now=None) -> int:
    """The periodic catch-up: hand again to a worker the imports queued for a while (their
    message never reached one, the broker was down) and the running ones without progress
    for long (their worker died; its transaction was rolled back). A run still alive holds
    the batch's lock, so the second one leaves at once. Returns how many were queued."""
    now = now or timezone.now()
    stalled = ImportBatch.objects.filter(
        Q(status=ImportStatus.QUEUED, queued_at__lt=now - RESUME_QUEUED_AFTER)
        | Q(status=ImportStatus.RUNNING, progress_at__lt=now - RESUME_RUNNING_AFTER)
    )
    queued = 0
    for batch_id in stalled.values_list("pk", flat=True):
        queued += bool(enqueue("crm.import_run", batch_id))
    return queued


# --- undo ------------------------------------------------------------------------------------


def _changed_since(batch: ImportBatch) -> list[str]:
    """Why undoing would lose someone's work: records of the batch changed after it finished
    (an edit, a move, an activity, another import), notes on them, or other records hung on
    the batch's companies and contacts."""
    since = batch.finished_at
    reasons = []
    deals = Deal.objects.filter(import_batch=batch)
    companies = Company.objects.filter(import_batch=batch)
    contacts = Contact.objects.filter(import_batch=batch)
    moved = StageChange.objects.filter(deal_id=OuterRef("pk"), at__gt=since)
    changed = deals.filter(Q(updated_at__gt=since) | Exists(moved)).count()
    if changed:
        reasons.append(_("%(count)s of its deals were changed since") % {"count": changed})
    changed = companies.filter(updated_at__gt=since).count()
    changed += contacts.filter(updated_at__gt=since).count()
    if changed:
        reasons.append(
            _("%(count)s of its companies and contacts were changed since") % {"count": changed}
        )
    notes = Note.objects.filter(
        Q(deal__import_batch=batch)
        | Q(company__import_batch=batch)
        | Q(contact__import_batch=batch)
    ).count()
    if notes:
        reasons.append(_("%(count)s notes were written on its records") % {"count": notes})
    others = (
        Deal.objects.filter(Q(company__import_batch=batch) | Q(contact__import_batch=batch))
        .exclude(import_batch=batch)
        .count()
    )
    others += (
        Contact.objects.filter(company__import_batch=batch).exclude(import_batch=batch).count()
    )
    if others:
        reasons.append(
            _("%(count)s other deals and contacts now belong to its companies and contacts")
            % {"count": others}
        )
    return reasons


UNDO_CHUNK = 1000


def _delete_created(model, batch: ImportBatch) -> None:
    """Delete the batch's records of `model` and, first, the rows of every model that
    cascades from it (hidden relations included; foreign keys are checked at commit, so the
    order is free). By ids, a thousand at a time: each statement is an index lookup whatever
    the planner believes about tables that have just grown by tens of thousands of rows."""
    relations = [
        relation
        for relation in model._meta.get_fields(include_hidden=True)
        if relation.auto_created
        and not relation.concrete
        and relation.one_to_many
        and relation.on_delete is models.CASCADE
        and relation.related_model is not model
    ]
    ids = list(
        model._base_manager.filter(import_batch=batch).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(ids), UNDO_CHUNK):
        chunk = ids[start : start + UNDO_CHUNK]
        for relation in relations:
            rows = relation.related_model._base_manager.filter(
                **{f"{relation.field.attname}__in": chunk}
            )
            rows._raw_delete(rows.db)
        records = model._base_manager.filter(pk__in=chunk)
        records._raw_delete(records.db)


@atomic_with_retry
def import_batch_undo(*, acting_user: User, batch: ImportBatch) -> ImportBatch:
    """Remove exactly what `batch` created: its deals (with their history, activities and
    flags), contacts and companies. What it updated stays as it is now (the values before
    are not kept). Managers of the batch's team and admins only (PermissionDenied).

    Refused (ImportRefused) unless the batch is done, and when undoing would lose someone's
    work since (see `_changed_since`): change those records or delete them by hand first.
    Idempotent: an undone batch is left as it is."""
    if not may_undo(user=acting_user, batch=batch):
        raise PermissionDenied(_("Only a manager of the team or an admin can undo an import."))
    stage_ids = []
    if batch.pipeline_id is not None:
        stage_ids = list(
            _lock_stages(
                set(batch.pipeline.stages.values_list("pk", flat=True)),
                pipeline_id=batch.pipeline_id,
            )
        )
    locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.status == ImportStatus.UNDONE:
        return locked
    if locked.status != ImportStatus.DONE:
        raise ImportRefused(_("Only a finished import can be undone."))
    reasons = _changed_since(locked)
    if reasons:
        raise ImportConflict(
            _("This import cannot be undone: %(reasons)s. Undoing it would lose that work.")
            % {"reasons": "; ".join(reasons)}
        )
    deals = Deal.objects.filter(import_batch=locked)
    list(deals.select_for_update().order_by("pk").values_list("pk", flat=True))
    analytics_forget_matching("import_batch_id = %s", [locked.pk])
    deals.update(next_step=None)
    flagged_at = list(
        Flag.objects.filter(deal__import_batch=locked)
        .values_list("raised_at", flat=True)
        .distinct()
    )
    for model in (Deal, Contact, Company):
        _delete_created(model, locked)
    flag_summaries_prune(times=flagged_at)
    if stage_ids:
        stage_totals_rebuild(stage_ids=stage_ids)
    locked.status = ImportStatus.UNDONE
    locked.undone_at = timezone.now()
    locked.undone_by = acting_user
    locked.save(update_fields=["status", "undone_at", "undone_by"])
    transaction.on_commit(lambda: enqueue("crm.tiers_recompute"))
    return locked


# --- the command line ------------------------------------------------------------------------


def import_records(
    *,
    acting_user: User,
    kind: str,
    file: BinaryIO,
    file_name: str,
    team: Team | None = None,
    pipeline: Pipeline | None = None,
    dry_run: bool = False,
) -> tuple[ImportBatch | None, ImportResult]:
    """Import a file with the automatic mapping (headers recognised; stages matched by name,
    owners by e-mail or full name among the team's members), as one batch, in this process.
    With `dry_run`, only what the preview says (no batch is kept). ImportFileError for a file
    that cannot be imported; PermissionDenied for a target that is not the user's."""
    team = _check_target(acting_user=acting_user, kind=kind, team=team, pipeline=pipeline)
    table, profile = read_table(file)
    mapping = default_mapping(kind=kind, headers=table.headers)
    if dry_run:
        settings_ = RunSettings(
            kind=kind,
            acting_user=acting_user,
            team=team,
            pipeline=pipeline,
            headers=table.headers,
            profile=profile,
            columns=mapping["columns"],
            source_system=h.detect_source(table.headers),
            apply_routines=mapping["routines"],
        )
        return None, ImportRun(settings_, dry_run=True).execute(table)
    batch = _batch_save(
        acting_user=acting_user,
        kind=kind,
        team=team,
        pipeline=pipeline if kind == ImportKind.DEALS else None,
        file_name=file_name,
        file=file,
        table=table,
        profile=profile,
    )
    _check_mapping(batch, batch.mapping, acting_user=acting_user)
    _queue(batch=batch, acting_user=acting_user)
    batch = import_batch_run(batch_id=batch.pk)
    result = ImportResult(
        created=batch.created_count,
        updated=batch.updated_count,
        unchanged=batch.unchanged_count,
        skipped=batch.skipped_count,
    )
    result.related.update(batch.related_created)
    result.problems = [Problem(**p) for p in batch.problems]
    result.problem_count = batch.problem_count
    return batch, result
