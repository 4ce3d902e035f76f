"""The analytics pages' derived table of stage visits (`StageVisit`): one row per stage entry
with where the stay ended (the deal's next entry), whether it is the deal's first entry into
the stage and, for first entries, whether the deal later reached a stage further along.

Only the stage history is derived; everything else the pages filter and count on (owner,
status, close date, visibility, tier, product area) is read from the deals themselves at
request time, so it is always current. The visits are brought up to date set-based, only for
the deals that changed since the last refresh:

- deals updated (`Deal.updated_at`, set by every deal write) after the watermark, which lags
  the refresh's start by `OVERLAP` so a transaction that committed late is still caught;
- deals with stage changes whose id is above the last one seen (history written directly);
- everything when the order of stages changed ("further along" depends on it) or on the first
  run.

A refresh is idempotent: running it twice, or after a crash, recomputes the same rows.
Refreshes are serialised by a lock on the state row; a page that finds one under way reads
the visits as they are rather than waiting.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from pipeline.models import AnalyticsRefresh, Deal, Stage, StageChange

OVERLAP = timedelta(minutes=2)  # how far back each refresh looks again for late commits
MAX_AGE = timedelta(minutes=1)  # pages refresh first when the visits are older than this
CHUNK = 500  # deal ids per statement where arrays are not available (SQLite)

_VISITS_SQL = """
INSERT INTO pipeline_stagevisit
    (change_id, deal_id, stage_id, entered_at, left_at, is_first, moved_on)
SELECT w.id, w.deal_id, w.to_stage_id, w.at, w.left_at,
    CASE WHEN w.rn = 1 THEN TRUE ELSE FALSE END,
    CASE WHEN w.rn = 1 AND EXISTS (
        SELECT 1 FROM pipeline_stagechange l
        JOIN pipeline_stage ls ON ls.id = l.to_stage_id
        WHERE l.deal_id = w.deal_id AND ls.pipeline_id = w.pipeline_id AND l.at > w.at
            AND (ls.position > w.position OR (ls.position = w.position AND ls.id > w.to_stage_id))
    ) THEN TRUE ELSE FALSE END
FROM (
    SELECT sc.id, sc.deal_id, sc.to_stage_id, sc.at, st.pipeline_id, st.position,
        LEAD(sc.at) OVER (PARTITION BY sc.deal_id ORDER BY sc.at, sc.id) AS left_at,
        ROW_NUMBER() OVER (PARTITION BY sc.deal_id, sc.to_stage_id ORDER BY sc.at, sc.id) AS rn
    FROM pipeline_stagechange sc
    JOIN pipeline_stage st ON st.id = sc.to_stage_id
    {where}
) w
"""


def _stage_order() -> str:
    """A fingerprint of every stage's pipeline and position."""
    rows = Stage.objects.order_by("pk").values_list("pk", "pipeline_id", "position")
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _recompute(deal_ids: list[int] | None) -> None:
    """Replace the visits of `deal_ids` (all deals when None) by ones computed afresh."""
    if deal_ids is None:
        _execute("DELETE FROM pipeline_stagevisit", [])
        _execute(_VISITS_SQL.format(where=""), [])
        return
    if connection.vendor == "postgresql":
        _execute("DELETE FROM pipeline_stagevisit WHERE deal_id = ANY(%s)", [deal_ids])
        _execute(_VISITS_SQL.format(where="WHERE sc.deal_id = ANY(%s)"), [deal_ids])
        return
    for i in range(0, len(deal_ids), CHUNK):
        chunk = deal_ids[i : i + CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        _execute(f"DELETE FROM pipeline_stagevisit WHERE deal_id IN ({marks})", chunk)
        _execute(_VISITS_SQL.format(where=f"WHERE sc.deal_id IN ({marks})"), chunk)


def analytics_refresh(*, full: bool = False, wait: bool = True) -> datetime | None:
    """Bring the stage visits up to date: the deals changed since the last refresh, or every
    deal (`full`, the first run, or after stages were reordered). Returns the refresh time.

    No acting user: the table holds nothing anyone can see without the deal visibility rule
    the pages apply. Idempotent and safe to run concurrently: refreshes take the state row's
    lock in turn; with `wait=False` a refresh already under way is left to finish and None
    is returned."""
    never = datetime(2000, 1, 1, tzinfo=UTC)  # a new state row: stale, everything to do
    AnalyticsRefresh.objects.get_or_create(
        pk=1, defaults={"refreshed_at": never, "changed_at": never, "updated_after": never}
    )
    with transaction.atomic():
        state = (
            AnalyticsRefresh.objects.select_for_update(skip_locked=not wait).filter(pk=1).first()
        )
        if state is None:
            return None
        started = timezone.now()
        last_change = StageChange.objects.aggregate(last=Max("pk"))["last"] or 0
        order = _stage_order()
        if full or state.stage_order != order:
            _recompute(None)
            state.changed_at = started
        else:
            changed = set(
                Deal.objects.filter(updated_at__gt=state.updated_after).values_list("pk", flat=True)
            )
            changed.update(
                StageChange.objects.filter(pk__gt=state.change_id).values_list("deal_id", flat=True)
            )
            if changed:
                _recompute(sorted(changed))
                state.changed_at = started
        state.refreshed_at = started
        state.updated_after = started - OVERLAP
        state.change_id = last_change
        state.stage_order = order
        state.save()
    return started


class Freshness(NamedTuple):
    as_of: datetime  # the last refresh: the figures are exact as of then
    version: datetime  # the last refresh that changed anything


def analytics_refresh_if_stale(*, now: datetime | None = None) -> Freshness:
    """For the pages: how fresh the visits are, refreshing them first when they are older
    than MAX_AGE (without waiting for a refresh that is already running)."""
    now = now or timezone.now()
    state = AnalyticsRefresh.objects.filter(pk=1).first()
    if state is None or now - state.refreshed_at > MAX_AGE:
        analytics_refresh(wait=False)
        state = AnalyticsRefresh.objects.filter(pk=1).first()
    return Freshness(as_of=state.refreshed_at, version=state.changed_at)
