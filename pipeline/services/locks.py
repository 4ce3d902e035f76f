"""Row locks in the one global order (docs/architecture.md, "Locks"), and what every write on
a deal keeps in step under them: its column's kept totals, its flags and its rotting clock.
Shared by the services on deals and on activities, and below both: it imports neither."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import F
from django.utils.translation import gettext as _

from pipeline.models import Deal, DealStatus, Stage, StageTotal
from pipeline.services.flags import flags_sync


class DealConflict(Exception):
    """The deal changed since the user loaded it (their version is stale)."""

    def __init__(self, current: Deal):
        super().__init__(_("This deal was changed by someone else."))
        self.current = current


def _lock_stages(stage_ids: set[int], *, pipeline_id: int | None = None) -> dict[int, Stage]:
    """Take the column locks, always in primary-key order so two moves cannot deadlock.
    Returns the locked stages (of `pipeline_id` only, when given).

    FOR NO KEY UPDATE, not FOR UPDATE: the foreign-key checks of other transactions (a stage
    change or a deal written into this column) take FOR KEY SHARE on the stage row, which a
    FOR UPDATE lock blocks until commit; two drags on neighbouring columns then wait for each
    other and PostgreSQL kills one. The global order is in docs/architecture.md ("Locks")."""
    qs = (
        Stage.objects.select_for_update(no_key=True).filter(pk__in=sorted(stage_ids)).order_by("pk")
    )
    if pipeline_id is not None:
        qs = qs.filter(pipeline_id=pipeline_id)
    return {stage.pk: stage for stage in qs}


def _lock_stages_with_totals(stage_ids: set[int], *, pipeline_id: int) -> dict[int, Stage]:
    """`_lock_stages` for a move: the locked stages of `pipeline_id`, each with its kept totals
    read in the same statement (`stage.kept_totals`: currency -> (count, value, attention)),
    which the stage lock keeps still until commit. Locks only the stage rows."""
    qs = (
        Stage.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted(stage_ids), pipeline_id=pipeline_id)
        .annotate(
            kept_currency=F("totals__currency"),
            kept_count=F("totals__count"),
            kept_value=F("totals__value"),
            kept_attention=F("totals__attention"),
        )
        .order_by("pk")
    )
    stages: dict[int, Stage] = {}
    for row in qs:
        stage = stages.setdefault(row.pk, row)
        if not hasattr(stage, "kept_totals"):
            stage.kept_totals = {}
        if row.kept_currency is not None:
            stage.kept_totals[row.kept_currency] = (
                row.kept_count,
                row.kept_value,
                row.kept_attention,
            )
    return stages


def _lock_deal(deal: Deal, version: int | None, *, for_delete: bool = False) -> Deal:
    """Lock the deal's row after its column (see `_lock_stages`) and reload it. A delete needs
    the full FOR UPDATE lock; every other write takes FOR NO KEY UPDATE, which lets other
    transactions' foreign-key checks on the deal (activities, flags) through."""
    current = (
        Deal.objects.select_for_update(no_key=not for_delete, of=("self",))
        .with_attention()
        .get(pk=deal.pk)
    )
    current.pipeline = deal.pipeline  # already loaded by the caller's access check
    if version is not None and current.version != version:
        raise DealConflict(current)
    return current


# --- column totals -------------------------------------------------------------------------


def _totals_add(
    stage_id: int, currency: str, count: int, value: Decimal, attention: int = 0
) -> None:
    """Adjust a stage's kept totals. Callers hold the stage's column lock."""
    updated = StageTotal.objects.filter(stage_id=stage_id, currency=currency).update(
        count=F("count") + count, value=F("value") + value, attention=F("attention") + attention
    )
    if not updated:
        StageTotal.objects.create(
            stage_id=stage_id, currency=currency, count=count, value=value, attention=attention
        )


def totals_add_many(currency: str, changes: list[tuple[int, int, Decimal, int]]) -> None:
    """Adjust several stages' kept totals in one currency in one statement: `changes` are
    (stage id, count, value, attention) deltas, one per stage; a stage without a row in the
    currency gets one. Callers hold the stages' column locks."""
    table = StageTotal._meta.db_table
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(changes))
    params = [x for stage_id, n, v, a in changes for x in (stage_id, currency, n, v, a)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (stage_id, currency, count, value, attention) VALUES {rows} "
            "ON CONFLICT (stage_id, currency) DO UPDATE SET "
            f"count = {table}.count + excluded.count, value = {table}.value + excluded.value, "
            f"attention = {table}.attention + excluded.attention",
            params,
        )


def _totals_enter(deal: Deal) -> None:
    _totals_add(deal.stage_id, deal.currency, 1, deal.value, int(deal.needs_attention))


def _totals_leave(deal: Deal) -> None:
    _totals_add(deal.stage_id, deal.currency, -1, -deal.value, -int(deal.needs_attention))


# --- flags and movement ------------------------------------------------------------------


def _moved(deal: Deal, now) -> list[str]:
    """Movement resets the rotting clock: entering a stage or completing an activity."""
    deal.last_movement_at = now
    deal.rots_at = now + timedelta(days=deal.stage.rot_days)
    return ["last_movement_at", "rots_at"]


def _flags_refresh(deal: Deal, *, now=None, raise_new: bool = False) -> None:
    """Bring one deal's flags in line after a change (resolving what the change fixed, and with
    `raise_new` raising what it caused) and keep its stage's attention count in step.
    Callers hold the stage lock and the deal lock. Nothing to do for a deal without flags
    unless raising."""
    if not deal.needs_attention and not raise_new:
        return
    before = deal.needs_attention
    flags_sync(deals=Deal.objects.filter(pk=deal.pk), now=now, raise_new=raise_new)
    deal.needs_attention = (
        Deal.objects.filter(pk=deal.pk)
        .with_attention()
        .values_list("needs_attention", flat=True)
        .get()
    )
    if deal.status == DealStatus.OPEN and before != deal.needs_attention:
        _totals_add(deal.stage_id, deal.currency, 0, Decimal(0), deal.needs_attention - before)
