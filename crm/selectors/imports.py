"""Imports: where a user may import, the access door of a batch, the import history."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.access import access_for
from accounts.models import Team, User
from crm.models import ImportBatch
from pipeline.models import Pipeline


def import_pipelines_for_user(*, user: User) -> QuerySet[Pipeline]:
    """The active pipelines the user may import deals into: their teams' (all for an
    admin)."""
    return (
        Pipeline.objects.visible_to(user)
        .active()
        .select_related("team")
        .order_by("team__name", "position", "name", "pk")
    )


def import_teams_for_user(*, user: User) -> QuerySet[Team]:
    """The teams the user may import companies and contacts into: theirs (all for an
    admin)."""
    access = access_for(user)
    teams = Team.objects.order_by("name")
    return teams if access.is_admin else teams.filter(pk__in=access.team_ids)


def import_batch_get_for_user(*, user: User, pk: int, write: bool = False) -> ImportBatch:
    """A batch from the history; 404 when missing or not the user's to see (their own
    imports; a manager's teams'; all for an admin). With `write` (mapping, starting it),
    403 unless the user uploaded it or is an admin."""
    batch = (
        ImportBatch.objects.visible_to(user)
        .select_related("team", "pipeline", "user", "undone_by")
        .filter(pk=pk)
        .first()
    )
    if batch is None:
        raise Http404
    if write and batch.user_id != user.pk and not access_for(user).is_admin:
        raise PermissionDenied
    return batch


def import_batches_for_user(*, user: User) -> QuerySet[ImportBatch]:
    """The import history the user may see, newest first, without the stored profiles."""
    return (
        ImportBatch.objects.visible_to(user)
        .select_related("team", "pipeline", "user", "undone_by")
        .defer("profile", "problems", "mapping", "headers")
        .order_by("-created_at", "-pk")
    )


def progress_cache_key(batch_id: int) -> str:
    return f"import-progress:{batch_id}"


def import_progress(*, batch: ImportBatch) -> int:
    """How many rows a running import has read: from the batch (PostgreSQL, written through
    a connection of its own), else from the shared cache (SQLite allows one writer, so the
    import writes its progress there); 0 when neither says."""
    if batch.progress_done or not batch.is_running:
        return batch.progress_done
    try:
        return int(cache.get(progress_cache_key(batch.pk)) or 0)
    except Exception:  # noqa: BLE001 - a cache outage only hides the percentage
        return 0
