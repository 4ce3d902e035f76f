"""The analytics pages' derived tables: the stage visits (`StageVisit`), one row per stage
entry with where the stay ended, whether it is the deal's first entry into the stage and, for
first entries, whether the deal later reached a stage further along, plus the deal's columns
the pages filter on; and their sums per month (`StageMonth`), which the pages read for the
whole months of a period.

Both are brought up to date set-based, only for the deals that changed since the last refresh:

- deals updated (`Deal.updated_at`, set by every deal write) after the watermark, which lags
  the refresh's start by `OVERLAP` so a transaction that committed late is still caught;
- deals with stage changes whose id is above the last one seen (history written directly);
- deals of companies whose ABC tier changed (`TierChange` ids above the last one seen);
- everything when the order of stages or the time zone changed ("further along" and the
  months depend on them) or on the first run.

A changed deal's visits are taken out of the monthly sums, recomputed, and added back, so the
sums always equal the visits' (tests/pipeline/services/test_analytics.py checks it against a
rebuild). A refresh is idempotent: running it twice, or after a crash, recomputes the same
rows. Refreshes are serialised by a lock on the state row; a page that finds one under way
reads the tables as they are rather than waiting.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from crm.broker import enqueue
from crm.models import TierChange
from crm.organisation import organisation_zone
from crm.transactions import atomic_with_retry
from pipeline.models import AnalyticsRefresh, Deal, Stage, StageChange
from pipeline.sql_time import month_sql, seconds_between_sql, whole_days_sql

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)  # how far back each refresh looks again for late commits
MAX_AGE = timedelta(minutes=1)  # pages refresh first when the visits are older than this
CHUNK = 500  # deal ids per statement where arrays are not available (SQLite)
# A page rebuilds the tables itself (first run, stages reordered) only for a history up to
# this many stage changes; a bigger one is left to the background task (~30 s per million).
INLINE_REBUILD_LIMIT = 20_000
NEVER = datetime(2000, 1, 1, tzinfo=UTC)  # a new state row: stale, everything to do

VERSION = "2"  # of the derived tables' definition: a change rebuilds them

# Every entry of the deals in {where}: its stay (to the deal's next entry, or its closing),
# whether it is the deal's first entry into the stage, whether the deal later entered a stage
# further along (by position, then id) of the same pipeline, and the deal's columns.
_VISITS_SQL = """
INSERT INTO pipeline_stagevisit
    (change_id, deal_id, stage_id, entered_at, left_at, is_first, moved_on, seconds,
     pipeline_id, owner_id, product_area_id, tier, created_at, closed_at, won, lost_here,
     here_now)
SELECT w.id, w.deal_id, w.to_stage_id, w.at, w.left_at,
    w.rn = 1,
    w.rn = 1 AND COALESCE(w.furthest_after > w.rank, FALSE),
    {seconds},
    d.pipeline_id, d.owner_id, d.product_area_id, COALESCE(co.tier, ''), d.created_at,
    CASE WHEN d.status IN ('won', 'lost') THEN d.closed_at END,
    d.status = 'won',
    d.status = 'lost' AND COALESCE(d.lost_from_stage_id = w.to_stage_id, FALSE),
    d.status IN ('open', 'paused') AND d.stage_id = w.to_stage_id
FROM (
    SELECT sc.id, sc.deal_id, sc.to_stage_id, sc.at, st.rank,
        LEAD(sc.at) OVER (PARTITION BY sc.deal_id ORDER BY sc.at, sc.id) AS left_at,
        ROW_NUMBER() OVER (PARTITION BY sc.deal_id, sc.to_stage_id ORDER BY sc.at, sc.id) AS rn,
        MAX(st.rank) OVER (
            PARTITION BY sc.deal_id, st.pipeline_id ORDER BY sc.at, sc.id
            ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
        ) AS furthest_after
    FROM pipeline_stagechange sc
    JOIN (
        SELECT id, pipeline_id,
            ROW_NUMBER() OVER (PARTITION BY pipeline_id ORDER BY position, id) AS rank
        FROM pipeline_stage
    ) st ON st.id = sc.to_stage_id
    {where}
) w
JOIN pipeline_deal d ON d.id = w.deal_id
LEFT JOIN crm_company co ON co.id = d.company_id
"""

# The visits of {where}, summed into StageMonth (times `sign`: -1 takes them out): first
# entries (days -1) and finished stays by whole days, under the month the deal was created
# and, for closed deals, the month it closed.
_MONTHS_SQL = """
INSERT INTO pipeline_stagemonth
    (basis, month, pipeline_id, stage_id, owner_key, product_area_key, tier, days,
     n, moved, lost, won, here, seconds)
SELECT basis, month, pipeline_id, stage_id, owner_key, product_area_key, tier, days,
    SUM(n) * {sign}, SUM(moved) * {sign}, SUM(lost) * {sign}, SUM(won) * {sign},
    SUM(here) * {sign}, SUM(seconds) * {sign}
FROM (
    SELECT v.*, {created_month} AS month, 0 AS basis FROM ({parts}) v
    UNION ALL
    SELECT v.*, {closed_month} AS month, 1 AS basis FROM ({parts}) v WHERE v.closed_at IS NOT NULL
) m
WHERE TRUE
GROUP BY basis, month, pipeline_id, stage_id, owner_key, product_area_key, tier, days
ON CONFLICT (basis, month, pipeline_id, stage_id, owner_key, product_area_key, tier, days)
DO UPDATE SET n = pipeline_stagemonth.n + excluded.n,
    moved = pipeline_stagemonth.moved + excluded.moved,
    lost = pipeline_stagemonth.lost + excluded.lost,
    won = pipeline_stagemonth.won + excluded.won,
    here = pipeline_stagemonth.here + excluded.here,
    seconds = pipeline_stagemonth.seconds + excluded.seconds
"""

_MONTH_PARTS_SQL = """
    SELECT created_at, closed_at, pipeline_id, stage_id,
        COALESCE(owner_id, 0) AS owner_key, COALESCE(product_area_id, 0) AS product_area_key,
        tier, -1 AS days, 1 AS n,
        CASE WHEN moved_on OR won THEN 1 ELSE 0 END AS moved,
        CASE WHEN lost_here THEN 1 ELSE 0 END AS lost,
        CASE WHEN won THEN 1 ELSE 0 END AS won,
        CASE WHEN here_now THEN 1 ELSE 0 END AS here,
        0 AS seconds
    FROM pipeline_stagevisit WHERE is_first AND {where}
    UNION ALL
    SELECT created_at, closed_at, pipeline_id, stage_id,
        COALESCE(owner_id, 0), COALESCE(product_area_id, 0), tier, {days}, 1, 0, 0, 0, 0,
        seconds
    FROM pipeline_stagevisit WHERE seconds IS NOT NULL AND {where}
"""


def _months_apply(where: str, params: list, *, sign: int) -> None:
    """Add (sign 1) or take out (sign -1) the visits matching `where` to the monthly sums,
    and drop the sums left at nothing."""
    parts = _MONTH_PARTS_SQL.format(where=where, days=whole_days_sql("seconds"))
    created, created_params = month_sql("v.created_at")
    closed, closed_params = month_sql("v.closed_at")
    sql = _MONTHS_SQL.format(
        sign=int(sign), parts=parts, created_month=created, closed_month=closed
    )
    _execute(sql, [*created_params, *params, *params, *closed_params, *params, *params])
    if sign < 0:
        _execute("DELETE FROM pipeline_stagemonth WHERE n = 0", [])


def _stage_order() -> str:
    """A fingerprint of every stage's pipeline and position, the time zone (months) and the
    tables' definition."""
    rows = Stage.objects.order_by("pk").values_list("pk", "pipeline_id", "position")
    fingerprint = repr([VERSION, organisation_zone().key, list(rows)])
    return hashlib.sha256(fingerprint.encode()).hexdigest()


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _visits_sql(where: str) -> str:
    seconds = seconds_between_sql(
        "COALESCE(w.left_at, CASE WHEN d.status IN ('won', 'lost') THEN d.closed_at END)", "w.at"
    )
    return _VISITS_SQL.format(where=where, seconds=seconds)


def _deal_chunks(deal_ids: list[int]):
    """(where on deal_id, params) per statement: one array on PostgreSQL, chunks elsewhere."""
    if connection.vendor == "postgresql":
        yield "{col} = ANY(%s)", [deal_ids]
        return
    for i in range(0, len(deal_ids), CHUNK):
        chunk = deal_ids[i : i + CHUNK]
        yield "{col} IN (" + ", ".join(["%s"] * len(chunk)) + ")", chunk


def _recompute(deal_ids: list[int] | None) -> None:
    """Replace the visits of `deal_ids` (all deals when None) by ones computed afresh, and
    their part of the monthly sums."""
    if deal_ids is None:
        _execute("DELETE FROM pipeline_stagemonth", [])
        _execute("DELETE FROM pipeline_stagevisit", [])
        _execute(_visits_sql(""), [])
        _months_apply("TRUE", [], sign=1)
        return
    for where, params in _deal_chunks(deal_ids):
        _months_apply(where.format(col="deal_id"), params, sign=-1)
        _execute("DELETE FROM pipeline_stagevisit WHERE " + where.format(col="deal_id"), params)
        _execute(_visits_sql("WHERE " + where.format(col="sc.deal_id")), params)
        _months_apply(where.format(col="deal_id"), params, sign=1)


def _wait_for_refreshes() -> None:
    """Take the refresh state row's lock (to the end of the caller's transaction), so that no
    refresh takes the same visits out of the monthly sums at the same time."""
    AnalyticsRefresh.objects.select_for_update(no_key=True).filter(pk=1).first()


@atomic_with_retry
def analytics_forget(deal_ids: list[int]) -> None:
    """Take deals about to be deleted out of the monthly sums (their visits go with them).
    Call it in the deleting transaction."""
    _wait_for_refreshes()
    for where, params in _deal_chunks(sorted(deal_ids)):
        _months_apply(where.format(col="deal_id"), params, sign=-1)


@atomic_with_retry
def analytics_forget_matching(deal_where: str, params: list) -> None:
    """The same for the deals matching a WHERE clause on pipeline_deal (set-based deletes)."""
    _wait_for_refreshes()
    _months_apply(f"deal_id IN (SELECT id FROM pipeline_deal WHERE {deal_where})", params, sign=-1)


def analytics_refresh(
    *, full: bool = False, wait: bool = True, rebuild_limit: int | None = None
) -> datetime | None:
    """Bring the stage visits and their monthly sums up to date: the deals changed since the
    last refresh, or every deal (`full`, the first run, or after stages were reordered).
    Returns the refresh time.

    No acting user: the tables hold nothing anyone can see without the deal visibility rule
    the pages apply. Idempotent and safe to run concurrently: refreshes take the state row's
    lock in turn; with `wait=False` a refresh already under way is left to finish and None
    is returned. With `rebuild_limit`, a rebuild of more stage changes than that is queued
    for the background task instead, and None is returned."""
    AnalyticsRefresh.objects.get_or_create(
        pk=1, defaults={"refreshed_at": NEVER, "changed_at": NEVER, "updated_after": NEVER}
    )
    with transaction.atomic():
        state = (
            AnalyticsRefresh.objects.select_for_update(no_key=True, skip_locked=not wait)
            .filter(pk=1)
            .first()
        )
        if state is None:
            return None
        started = timezone.now()
        last_change = StageChange.objects.aggregate(last=Max("pk"))["last"] or 0
        last_tier_change = TierChange.objects.aggregate(last=Max("pk"))["last"] or 0
        order = _stage_order()
        if full or state.stage_order != order:
            if rebuild_limit is not None and StageChange.objects.count() > rebuild_limit:
                _rebuild_enqueue()
                return None
            _recompute(None)
            state.changed_at = started
        else:
            changed = set(
                Deal.objects.filter(updated_at__gt=state.updated_after).values_list("pk", flat=True)
            )
            changed.update(
                StageChange.objects.filter(pk__gt=state.change_id).values_list("deal_id", flat=True)
            )
            companies = TierChange.objects.filter(pk__gt=state.tier_change_id).values("company_id")
            changed.update(
                Deal.objects.filter(company_id__in=companies).values_list("pk", flat=True)
            )
            if changed:
                _recompute(sorted(changed))
                state.changed_at = started
        state.refreshed_at = started
        state.updated_after = started - OVERLAP
        state.change_id = last_change
        state.tier_change_id = last_tier_change
        state.stage_order = order
        state.save()
    return started


def _rebuild_enqueue() -> bool:
    """Queue the background refresh (which rebuilds). A broker that is down never breaks the
    page asking (see crm.broker): the periodic run does it within minutes. Returns whether it
    was queued."""
    return enqueue("pipeline.analytics_refresh")


class Freshness(NamedTuple):
    as_of: datetime | None  # the last refresh: the figures are exact as of then; None: never
    version: datetime  # the last refresh that changed anything


def analytics_refresh_if_stale(*, now: datetime | None = None) -> Freshness:
    """For the pages: how fresh the tables are, refreshing them first when they are older
    than MAX_AGE (without waiting for a refresh that is already running, and leaving a
    rebuild of a long history to the background task)."""
    now = now or timezone.now()
    state = AnalyticsRefresh.objects.filter(pk=1).first()
    if state is None or now - state.refreshed_at > MAX_AGE:
        analytics_refresh(wait=False, rebuild_limit=INLINE_REBUILD_LIMIT)
        state = AnalyticsRefresh.objects.get(pk=1)
    as_of = None if state.refreshed_at == NEVER else state.refreshed_at
    return Freshness(as_of=as_of, version=state.changed_at)
