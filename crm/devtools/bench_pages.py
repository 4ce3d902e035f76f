"""The manager's pages for `manage.py bench`: the forecast page at 100k open deals, the weekly
review page at 10k open deals in a team, and the weekly snapshot task at 1M open deals.

Each page gets a team of its own ("Bench forecast", "Bench review"), with a manager, five reps,
one pipeline of six stages, open deals spread over a year of close dates, a year of won and
lost deals, and last week's snapshot taken before a share of the deals changed (moved,
slipped, value changed, won, lost, new), so "what changed since last week" has work to do.
The teams are separate from the board's team and from the 1M-deal scan pipeline, so each page
sees exactly the deals its scenario names. Built once with INSERT ... SELECT and reused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.devtools.bench_fixtures import CURRENCIES, STAGES, TITLES, delete_deals
from crm.models import Company
from pipeline.forecasting import monday
from pipeline.models import (
    Deal,
    DealStatus,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    Pipeline,
    Stage,
)
from pipeline.money import rates_on
from pipeline.services import POSITION_GAP, stage_totals_rebuild
from pipeline.services.forecasts import (
    deals_as_they_are,
    snapshot_lines_insert,
    snapshot_totals_insert,
)

REPS = 5
COMPANIES = 300


@dataclass
class PageFixture:
    team: Team
    manager: User
    pipeline: Pipeline
    stages: list[Stage]


_OPEN_SQL = """
INSERT INTO pipeline_deal (
    title, value, currency, status, position, version, stage_entered_at, created_at,
    updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
    pipeline_id, stage_id, owner_id, company_id, expected_close_date,
    last_movement_at, rots_at, next_step_subject, pause_reason
)
SELECT
    (%(titles)s::text[])[1 + g %% %(n_titles)s] || ' #' || g,
    (1 + (g * 7919) %% 480) * 250.00,
    (%(currencies)s::text[])[1 + g %% %(n_currencies)s],
    'open',
    (%(offset)s::bigint + g) * %(gap)s,
    1,
    entered,
    entered - make_interval(days => 30),
    entered - make_interval(days => 30),
    g %% 3 = 0, g %% 4 = 0, g %% 2 = 0, '',
    %(pipeline)s,
    (%(stages)s::bigint[])[1 + g %% %(n_stages)s],
    (%(owners)s::bigint[])[1 + (g * 7) %% %(n_owners)s],
    (%(companies)s::bigint[])[1 + (g * 31) %% %(n_companies)s],
    CASE WHEN g %% 50 = 0 THEN NULL ELSE current_date + ((g * 13) %% 400 - 45) END,
    entered,
    entered + make_interval(days => 14),
    '', ''
FROM generate_series(1, %(count)s) AS g,
    LATERAL (SELECT now() - make_interval(mins => (g * 37) %% (60 * 24 * 60))) AS t (entered)
"""

# A year of closed deals: every fourth one lost, close times spread over 365 days.
_CLOSED_SQL = """
INSERT INTO pipeline_deal (
    title, value, currency, status, position, version, stage_entered_at, created_at,
    updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
    pipeline_id, stage_id, owner_id, company_id, expected_close_date, closed_at,
    lost_from_stage_id, last_movement_at, next_step_subject, pause_reason
)
SELECT
    'Closed deal #' || g,
    (1 + (g * 7919) %% 480) * 250.00,
    (%(currencies)s::text[])[1 + g %% %(n_currencies)s],
    CASE WHEN g %% 4 = 0 THEN 'lost' ELSE 'won' END,
    0, 1, closed, closed - make_interval(days => 60), closed,
    true, true, true, '',
    %(pipeline)s,
    CASE WHEN g %% 4 = 0 THEN (%(stages)s::bigint[])[1 + g %% %(n_stages)s] ELSE %(last)s END,
    (%(owners)s::bigint[])[1 + (g * 7) %% %(n_owners)s],
    (%(companies)s::bigint[])[1 + (g * 31) %% %(n_companies)s],
    closed::date,
    closed,
    CASE WHEN g %% 4 = 0 THEN (%(stages)s::bigint[])[1 + g %% %(n_stages)s] END,
    closed, '', ''
FROM generate_series(1, %(count)s) AS g,
    LATERAL (SELECT now() - make_interval(hours => (g * 53) %% (24 * 365))) AS t (closed)
"""

_HISTORY_SQL = """
INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, user_id, at)
SELECT id, NULL, stage_id, owner_id, created_at FROM pipeline_deal
WHERE pipeline_id = %(pipeline)s
"""


def _ensure_team(name: str, prefix: str) -> tuple[Team, User, list[User], list[int]]:
    team, _ = Team.objects.get_or_create(name=name)
    users = []
    for i, role in enumerate([Role.MANAGER] + [Role.SALESPERSON] * REPS):
        username = f"{prefix}_{'manager' if i == 0 else f'rep{i}'}"
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": prefix.title(), "last_name": username.split("_")[1].title()},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        Membership.objects.update_or_create(user=user, team=team, defaults={"role": role})
        users.append(user)
    have = Company.objects.filter(team=team).count()
    Company.objects.bulk_create(
        [Company(team=team, name=f"{name} company {i:03d}") for i in range(have + 1, COMPANIES + 1)]
    )
    companies = list(Company.objects.filter(team=team).order_by("pk").values_list("pk", flat=True))
    return team, users[0], users[1:], companies


def build_page_fixture(
    *, team_name: str, prefix: str, open_deals: int, closed_deals: int, log
) -> PageFixture:
    """The team, its pipeline with exactly `open_deals` open deals (rebuilt when the count
    differs) and last week's snapshot of them. Idempotent; PostgreSQL only."""
    team, manager, reps, companies = _ensure_team(team_name, prefix)
    pipeline, _ = Pipeline.objects.get_or_create(team=team, name=f"{team_name} pipeline")
    stages = []
    for position, (stage_name, probability) in enumerate(STAGES):
        stage, _ = Stage.objects.get_or_create(
            pipeline=pipeline,
            name=stage_name,
            defaults={"position": position, "probability": probability},
        )
        stages.append(stage)
    fixture = PageFixture(team=team, manager=manager, pipeline=pipeline, stages=stages)
    week = monday(timezone.localdate()) - timedelta(weeks=1)
    # Kept when last week's snapshot holds exactly `open_deals` lines of the pipeline: the
    # open deals it was built with (a week of changes has moved the open count since).
    snapped = ForecastSnapshotLine.objects.filter(run__week=week, pipeline_id=pipeline.pk).count()
    if snapped == open_deals:
        log(f"Fixture: {open_deals} open deals in {pipeline.name!r} (kept)")
        return fixture
    started = time.perf_counter()
    with transaction.atomic():
        delete_deals("pipeline_id = %s", [pipeline.pk])
        ForecastSnapshotLine.objects.filter(pipeline_id=pipeline.pk).delete()
        params = {
            "titles": TITLES,
            "n_titles": len(TITLES),
            "currencies": CURRENCIES,
            "n_currencies": len(CURRENCIES),
            "gap": POSITION_GAP,
            "pipeline": pipeline.pk,
            "stages": [s.pk for s in stages],
            "n_stages": len(stages),
            "last": stages[-1].pk,
            "owners": [u.pk for u in reps],
            "n_owners": len(reps),
            "companies": companies,
            "n_companies": len(companies),
        }
        with connection.cursor() as cursor:
            cursor.execute(_OPEN_SQL, {**params, "count": open_deals, "offset": 0})
            cursor.execute(_CLOSED_SQL, {**params, "count": closed_deals})
            cursor.execute(_HISTORY_SQL, params)
        _snapshot_then_change(fixture, week=week, reps=reps, params=params)
        stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    with connection.cursor() as cursor:
        for table in ("pipeline_deal", "pipeline_stagechange", "pipeline_forecastsnapshotline"):
            cursor.execute(f"ANALYZE {table}")
    log(
        f"Fixture: {open_deals} open + {closed_deals} closed deals in {pipeline.name!r} "
        f"with last week's snapshot, in {time.perf_counter() - started:.1f} s"
    )
    return fixture


_CHANGES = [
    """UPDATE pipeline_deal SET stage_id = (%(stages)s::bigint[])[
            LEAST(array_position(%(stages)s::bigint[], stage_id) + 1, %(n_stages)s)],
        stage_entered_at = now(), last_movement_at = now(), position = position + 1,
        version = version + 1, updated_at = now()
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND id %% 100 < 3""",
    """UPDATE pipeline_deal SET expected_close_date = expected_close_date + 60, updated_at = now()
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND id %% 100 BETWEEN 3 AND 4""",
    """UPDATE pipeline_deal SET value = value * 1.1, updated_at = now()
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND id %% 100 = 5""",
    """UPDATE pipeline_deal SET status = 'won', closed_at = now(), updated_at = now()
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND id %% 100 = 6""",
    """UPDATE pipeline_deal SET status = 'lost', closed_at = now(), lost_from_stage_id = stage_id,
        updated_at = now()
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND id %% 200 = 14""",
    """UPDATE pipeline_deal SET status = 'paused', paused_at = now(),
        paused_until = current_date + 30, updated_at = now()
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND id %% 200 = 16""",
]


def _snapshot_then_change(fixture: PageFixture, *, week, reps, params: dict) -> None:
    """Last week's snapshot of the pipeline's open deals, then a believable week of changes:
    3 % moved a stage on, 2 % slipped two months, 1 % changed value, 1 % won, 0.5 % lost,
    0.5 % paused, and 1 % new deals."""
    taken_at = timezone.make_aware(datetime.combine(week, dtime.min))
    run, _ = ForecastSnapshotRun.objects.get_or_create(week=week, defaults={"taken_at": taken_at})
    open_deals = Deal.objects.filter(pipeline=fixture.pipeline, status=DealStatus.OPEN)
    snapshot_lines_insert(run=run, rates=rates_on(week), deals=deals_as_they_are(open_deals))
    snapshot_totals_insert(
        run=run, lines=ForecastSnapshotLine.objects.filter(run=run, pipeline_id=fixture.pipeline.pk)
    )
    stage_ids = [s.pk for s in fixture.stages]
    with connection.cursor() as cursor:
        # One statement per execute: the connection binds parameters on the server.
        for statement in _CHANGES:
            cursor.execute(statement, {**params, "stages": stage_ids, "n_stages": len(stage_ids)})
        cursor.execute("SELECT coalesce(max(id), 0) FROM pipeline_deal")
        before = cursor.fetchone()[0]
        new = max(1, open_deals.count() // 100)
        cursor.execute(_OPEN_SQL, {**params, "count": new, "offset": 10_000_000})
        cursor.execute(
            "UPDATE pipeline_deal SET created_at = now(), stage_entered_at = now(),"
            " last_movement_at = now(), updated_at = now() WHERE id > %(before)s",
            {"before": before},
        )
        cursor.execute(
            "INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, user_id, at)"
            " SELECT id, NULL, stage_id, owner_id, created_at FROM pipeline_deal"
            " WHERE id > %(before)s",
            {"before": before},
        )


def take_snapshot_now(*, log) -> dict:
    """`manage.py forecast_snapshot` as a child process over every open deal in the database
    (the 1M-deal scan pipeline included), after forgetting this week's run: its wall time and
    peak RSS. This week's run is removed again afterwards, so the pages keep comparing with
    last week's."""
    week = monday(timezone.localdate())
    ForecastSnapshotRun.objects.filter(week=week).delete()
    open_total = Deal.objects.filter(status=DealStatus.OPEN).count()
    log(f"Snapshot of {open_total} open deals ...")
    env = os.environ.copy()
    env.setdefault("DJANGO_SECRET_KEY", "insecure-key-for-benchmarks-only")
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "forecast_snapshot"]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = process.stdout.read(), process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    lines = ForecastSnapshotLine.objects.filter(run__week=week).count()
    ForecastSnapshotRun.objects.filter(week=week).delete()
    result = {
        "open_deals": open_total,
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "lines": lines,
        "exit_code": code,
    }
    if code != 0:
        result["error"] = err.decode(errors="replace")[-2000:]
    log(
        f"  snapshot: {elapsed:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB, "
        f"{lines} lines ({out.decode(errors='replace').strip()})"
    )
    return result
