"""Benchmark the analytics pages against PostgreSQL through a real gunicorn.

    python manage.py bench_analytics [--deals 100000] [--changes-per-deal 10] [--requests 50]
                                     [--json bench-results/bench_analytics.json] [--port 8766]

Builds (and reuses when it already has the size) an isolated fixture: team "Bench analytics",
a manager `bench_analytics` and five reps, pipeline "Bench analytics pipeline" with six
stages, and --deals deals (40 % open, 30 % won, 30 % lost with reasons, tiers and product
areas mixed) with --changes-per-deal stage changes each (forward, skipping and moving back),
written with `INSERT ... SELECT generate_series`. Then gunicorn (2 sync workers) serves the
app and the command times GETs of each analytics page over HTTP (p50/p95) and counts each
page's SQL queries in-process. `make bench` runs it after the main benchmark.

Helpers (gunicorn start/stop, session login, query counting) are shared with the main
benchmark in crm/devtools/bench_server.py, the HTTP session in crm/devtools/bench_http.py.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.devtools import bench_fixtures, bench_http, bench_server
from crm.models import Company
from pipeline.models import Deal, LostReason, Pipeline, ProductArea, Stage
from pipeline.services import stage_totals_rebuild
from pipeline.services.analytics import analytics_refresh

TEAM_NAME = "Bench analytics"
MANAGER = "bench_analytics"
REPS = ["bench_an_1", "bench_an_2", "bench_an_3", "bench_an_4", "bench_an_5"]
PIPELINE_NAME = "Bench analytics pipeline"
STAGES = bench_fixtures.STAGES
P50_TARGET_MS = 300.0
WARMUP_REQUESTS = 2
COMPANIES = 200
AREAS = ["Bench area A", "Bench area B", "Bench area C"]
REASONS = ["Price too high", "Chose a competitor", "No budget", "Timing: not now"]


@dataclass
class Fixture:
    team: Team
    user: User
    pipeline: Pipeline
    stages: list[Stage]


def _user(username: str) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": username.replace("_", " ").title()}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _ensure_base() -> Fixture:
    team, _ = Team.objects.get_or_create(name=TEAM_NAME)
    manager = _user(MANAGER)
    Membership.objects.update_or_create(user=manager, team=team, defaults={"role": Role.MANAGER})
    for username in REPS:
        Membership.objects.get_or_create(
            user=_user(username), team=team, defaults={"role": Role.SALESPERSON}
        )
    pipeline, _ = Pipeline.objects.get_or_create(
        team=team, name=PIPELINE_NAME, defaults={"position": 2000}
    )
    stages = [
        Stage.objects.get_or_create(
            pipeline=pipeline, name=name, defaults={"position": i, "probability": p}
        )[0]
        for i, (name, p) in enumerate(STAGES)
    ]
    have = Company.objects.filter(team=team).count()
    Company.objects.bulk_create(
        Company(team=team, name=f"Bench analytics company {i:03d}", tier="ABC"[i % 3])
        for i in range(have, COMPANIES)
    )
    for i, name in enumerate(AREAS):
        ProductArea.objects.get_or_create(name=name, defaults={"position": 100 + i})
    for name in REASONS:
        LostReason.objects.get_or_create(name=name)
    return Fixture(team=team, user=manager, pipeline=pipeline, stages=stages)


_DEALS_SQL = """
INSERT INTO pipeline_deal (
    title, value, currency, status, position, version, stage_entered_at, created_at,
    updated_at, closed_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
    pipeline_id, stage_id, owner_id, company_id, product_area_id, lost_reason_id,
    last_movement_at, rots_at, next_step_subject, pause_reason
)
SELECT
    'Bench analytics #' || g,
    (1 + (g * 7919) %% 480) * 250.00,
    (ARRAY['EUR', 'DKK', 'SEK', 'NOK'])[1 + g %% 4],
    CASE WHEN g %% 10 < 4 THEN 'open' WHEN g %% 10 < 7 THEN 'won' ELSE 'lost' END,
    g * 1024, 1, created, created, now(),
    CASE WHEN g %% 10 < 4 THEN NULL ELSE created + make_interval(days => %(changes)s * 3 + 1) END,
    false, false, false, '',
    %(pipeline)s, %(first_stage)s,
    (%(owners)s::bigint[])[1 + g %% %(n_owners)s],
    (%(companies)s::bigint[])[1 + (g * 31) %% %(n_companies)s],
    (%(areas)s::bigint[])[1 + (g * 13) %% %(n_areas)s],
    CASE WHEN g %% 10 >= 7 THEN (%(reasons)s::bigint[])[1 + (g * 17) %% %(n_reasons)s] END,
    created, created + interval '14 days', '', ''
FROM generate_series(1, %(count)s) AS g,
    LATERAL (SELECT now() - make_interval(days => 40 + (g * 37) %% 320, mins => g %% 1440))
        AS t (created)
"""

# Each deal's path: mostly forward, two steps at a time for some deals (skipping), one step
# back every fourth change (moving back).
_CHANGES_SQL = """
INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, user_id, at)
SELECT d.id,
    CASE WHEN j = 0 THEN NULL ELSE (%(stages)s::bigint[])[1 + idx.prev] END,
    (%(stages)s::bigint[])[1 + idx.cur],
    d.owner_id,
    d.created_at + make_interval(days => j * 3, mins => (d.id %% 600)::int)
FROM pipeline_deal d
CROSS JOIN generate_series(0, %(changes)s - 1) AS j
CROSS JOIN LATERAL (
    SELECT
        GREATEST(0, LEAST(5, (j * (2 + d.id %% 3)) / 4 - CASE WHEN j %% 4 = 3 THEN 1 ELSE 0 END)),
        GREATEST(0, LEAST(5, ((j - 1) * (2 + d.id %% 3)) / 4
            - CASE WHEN (j - 1) %% 4 = 3 THEN 1 ELSE 0 END))
) AS idx (cur, prev)
WHERE d.pipeline_id = %(pipeline)s
"""

# The deal sits in (or was closed from) the stage of its last change.
_LAST_STAGE_SQL = """
UPDATE pipeline_deal d
SET stage_id = last.to_stage_id, stage_entered_at = last.at,
    updated_at = GREATEST(last.at, COALESCE(d.closed_at, last.at)),
    lost_from_stage_id = CASE WHEN d.status = 'lost' THEN last.to_stage_id END
FROM (
    SELECT DISTINCT ON (sc.deal_id) sc.deal_id, sc.to_stage_id, sc.at
    FROM pipeline_stagechange sc JOIN pipeline_deal x ON x.id = sc.deal_id
    WHERE x.pipeline_id = %(pipeline)s
    ORDER BY sc.deal_id, sc.at DESC, sc.id DESC
) last
WHERE d.id = last.deal_id
"""


def build_fixture(deals: int, changes: int, *, log) -> Fixture:
    """The fixture with exactly `deals` deals and `changes` stage changes each (rebuilt only
    when the counts differ). Needs PostgreSQL."""
    if connection.vendor != "postgresql":
        raise CommandError("bench_analytics needs PostgreSQL.")
    with transaction.atomic():
        fixture = _ensure_base()
        have = Deal.objects.filter(pipeline=fixture.pipeline).count()
        have_changes = (
            Deal.objects.filter(pipeline=fixture.pipeline).values("stage_changes").count()
            if have == deals
            else -1
        )
        ready = have == deals and have_changes == deals * changes
    if ready:
        log(f"Fixture ready: {deals} deals, {deals * changes} stage changes.")
        # What changed since (the main benchmark's deals too), then the vacuum autovacuum
        # gives the tables soon after (pipeline/migrations/0014): the pages' index-only reads.
        started = time.perf_counter()
        analytics_refresh()
        _analyze()
        log(f"Stage visits brought up to date in {time.perf_counter() - started:.1f} s.")
        return fixture
    with transaction.atomic():
        started = time.perf_counter()
        bench_fixtures.delete_deals("pipeline_id = %s", [fixture.pipeline.pk])
        owners = list(
            Membership.objects.filter(team=fixture.team).values_list("user_id", flat=True)
        )
        ids = {
            "companies": list(
                Company.objects.filter(team=fixture.team).values_list("pk", flat=True)
            ),
            "areas": list(ProductArea.objects.filter(name__in=AREAS).values_list("pk", flat=True)),
            "reasons": list(
                LostReason.objects.filter(name__in=REASONS).values_list("pk", flat=True)
            ),
        }
        params = {
            "pipeline": fixture.pipeline.pk,
            "first_stage": fixture.stages[0].pk,
            "stages": [s.pk for s in fixture.stages],
            "owners": owners,
            "n_owners": len(owners),
            "count": deals,
            "changes": changes,
            **ids,
            **{f"n_{k}": len(v) for k, v in ids.items()},
        }
        with connection.cursor() as cursor:
            cursor.execute(_DEALS_SQL, params)
            cursor.execute(_CHANGES_SQL, params)
            cursor.execute(_LAST_STAGE_SQL, params)
        stage_totals_rebuild(stage_ids=[s.pk for s in fixture.stages])
        log(
            f"Built {deals} deals and {deals * changes} stage changes "
            f"in {time.perf_counter() - started:.1f} s."
        )
    # The pages' stage visits, rebuilt from the new history.
    started = time.perf_counter()
    analytics_refresh(full=True)
    log(f"Stage visits rebuilt in {time.perf_counter() - started:.1f} s.")
    _analyze()
    return fixture


def _analyze() -> None:
    """Fresh statistics (VACUUM cannot run inside a transaction, as in tests: ANALYZE can)."""
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
    with connection.cursor() as cursor:
        for table in (
            "pipeline_deal",
            "pipeline_stagechange",
            "pipeline_stagevisit",
            "pipeline_stagemonth",
        ):
            cursor.execute(f"{command} {table}")


class AnalyticsBench:
    """The analytics pages timed over HTTP on the fixture above; `stdout` and `stderr` are
    where the progress and the report go (a command's output wrappers)."""

    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(self, *, deals: int, changes: int, requests: int, json_path: Path, port: int) -> None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn_analytics.log")
        fixture = build_fixture(deals, changes, log=self.stdout.write)
        today = timezone.localdate()
        start = (today - timedelta(days=400)).isoformat()
        query = f"?pipeline={fixture.pipeline.pk}&from={start}"
        paths = {
            name: reverse(name) + query
            for name in (
                "analytics-funnel",
                "analytics-time-in-stage",
                "analytics-reps",
                "analytics-losses",
                "analytics-velocity",
            )
        }
        # Periods whose edges fall inside months full of deals (read from the visits, not the
        # monthly sums), and the "active" basis (created before the end less closed before
        # the start).
        mid = (today - timedelta(days=200)).replace(day=15)
        edges = f"?pipeline={fixture.pipeline.pk}&from={mid}&to={mid + timedelta(days=120)}"
        for name in ("analytics-funnel", "analytics-time-in-stage", "analytics-reps"):
            paths[f"{name} (edges)"] = reverse(name) + edges
            paths[f"{name} (active)"] = reverse(name) + edges + "&basis=active"
        paths["analytics-deals"] = (
            reverse("analytics-deals") + query + f"&stage={fixture.stages[2].pk}&outcome=lost"
        )
        session_key = bench_server.login_session(fixture.user)
        # Every request computes its figures: the time a manager waits after changing a filter.
        os.environ["ANALYTICS_CACHE_SECONDS"] = "0"
        server = bench_server.start_gunicorn(port, log_path, log=self.stdout.write)
        results = []
        try:
            http = bench_http.HttpSession(port, session_key)
            bench_server.wait_until_up(server, http, paths["analytics-funnel"], log_path)
            for name, path in paths.items():
                results.append(self._time_page(name, path, http, fixture, requests))
            http.close()
        finally:
            bench_server.stop_gunicorn(server)
            bench_server.logout_session(session_key)
        self._print(results, deals=deals, changes=deals * changes)
        json_path.write_text(json.dumps({"deals": deals, "results": results}, indent=2))

    def _time_page(self, name, path, http, fixture, requests) -> dict:
        first = []
        for _ in range(WARMUP_REQUESTS):
            started = time.perf_counter()
            status, body = http.request("GET", path)
            first.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise CommandError(f"{name}: {status}\n{bench_http.first_lines(body)}")
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            status, _body = http.request("GET", path)
            times.append((time.perf_counter() - started) * 1000)
        with override_settings(ANALYTICS_CACHE_SECONDS=0):
            queries, _sql = bench_server.count_queries(fixture.user, path, err=self.stderr.write)
        return {
            "page": name,
            "queries": queries,
            "first": max(first),
            **bench_http.timing_summary(times),
        }

    def _print(self, results, *, deals: int, changes: int) -> None:
        self.stdout.write(f"\nAnalytics pages, {deals} deals, {changes} stage changes")
        self.stdout.write(
            f"{'page':36} {'p50 ms':>8} {'p95 ms':>8} {'first ms':>9} {'queries':>8}  target"
        )
        for r in results:
            verdict = "ok" if r["p50"] < P50_TARGET_MS else "SLOW"
            self.stdout.write(
                f"{r['page']:36} {r['p50']:8.1f} {r['p95']:8.1f} {r['first']:9.1f} "
                f"{r['queries']:8d}  p50 < {P50_TARGET_MS:.0f} ms: {verdict}"
            )
