"""Benchmark the REST API's deal list against PostgreSQL through a real gunicorn.

    python manage.py bench_api [--deals 10000] [--requests 50] [--port 8767]
                               [--json bench-results/bench_api.json]

Builds (and reuses when it already has the size) an isolated fixture: team "Bench API", a
salesperson `bench_api` who sees exactly that team's deals, pipeline "Bench API pipeline"
with six stages and --deals open deals spread over them (companies, owners, currencies and
values mixed), written with `INSERT ... SELECT generate_series`. A personal API token is
made for the salesperson (and revoked afterwards); gunicorn (2 sync workers) serves the app
with the rate limit lifted, and the command times `GET /api/v1/deals?limit=N` for N = 100
and 10 over HTTP (p50/p95, target p50 < 40 ms at 100 a page), a page deep in the list
through its cursor, and counts each request's SQL queries in-process (the same whatever
the page size). The bare SQL of the 100-row page is timed too, as its floor.

`make bench` runs it after the main benchmark; helpers (gunicorn, percentiles) are shared
with it in crm/devtools/bench_server.py and bench_http.py.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts import services as account_services
from accounts.models import Membership, Role, Team, User
from crm.devtools import bench_fixtures, bench_http, bench_server
from crm.models import Company
from pipeline.models import Deal, Pipeline, Stage
from pipeline.services import stage_totals_rebuild

TEAM_NAME = "Bench API"
USERNAME = "bench_api"
OTHER_USERNAMES = ["bench_api_2", "bench_api_3"]
PIPELINE_NAME = "Bench API pipeline"
COMPANIES = 200
P50_TARGET_MS = 40.0
PAGE_SIZES = (100, 10)


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
    user = _user(USERNAME)
    Membership.objects.update_or_create(user=user, team=team, defaults={"role": Role.SALESPERSON})
    for username in OTHER_USERNAMES:
        Membership.objects.get_or_create(
            user=_user(username), team=team, defaults={"role": Role.SALESPERSON}
        )
    pipeline, _ = Pipeline.objects.get_or_create(
        team=team, name=PIPELINE_NAME, defaults={"position": 3000}
    )
    stages = [
        Stage.objects.get_or_create(
            pipeline=pipeline, name=name, defaults={"position": i, "probability": p}
        )[0]
        for i, (name, p) in enumerate(bench_fixtures.STAGES)
    ]
    have = Company.objects.filter(team=team).count()
    Company.objects.bulk_create(
        Company(team=team, name=f"Bench API company {i:03d}", tier="ABC"[i % 3])
        for i in range(have, COMPANIES)
    )
    return Fixture(team=team, user=user, pipeline=pipeline, stages=stages)


_DEALS_SQL = """
INSERT INTO pipeline_deal (
    title, value, currency, status, position, version, stage_entered_at, created_at,
    updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
    pipeline_id, stage_id, owner_id, company_id, last_movement_at, rots_at,
    next_step_subject, pause_reason
)
SELECT
    'Bench API deal #' || g,
    (1 + (g * 7919) %% 480) * 250.00,
    (ARRAY['EUR', 'DKK', 'SEK', 'NOK'])[1 + g %% 4],
    'open',
    (g / %(n_stages)s) * 1024, 1, created, created, created + interval '1 day',
    false, false, false, '',
    %(pipeline)s,
    (%(stages)s::bigint[])[1 + g %% %(n_stages)s],
    (%(owners)s::bigint[])[1 + g %% %(n_owners)s],
    (%(companies)s::bigint[])[1 + (g * 31) %% %(n_companies)s],
    created, created + interval '14 days', '', ''
FROM generate_series(1, %(count)s) AS g,
    LATERAL (SELECT now() - make_interval(days => (g * 37) %% 300, mins => g %% 1440))
        AS t (created)
"""


def build_fixture(deals: int, *, log) -> Fixture:
    """The fixture with exactly `deals` open deals (rebuilt only when the count differs)."""
    if connection.vendor != "postgresql":
        raise CommandError("bench_api needs PostgreSQL.")
    with transaction.atomic():
        fixture = _ensure_base()
        if Deal.objects.filter(pipeline=fixture.pipeline).count() == deals:
            log(f"Fixture ready: {deals} open deals.")
            return fixture
        started = time.perf_counter()
        bench_fixtures.delete_deals("pipeline_id = %s", [fixture.pipeline.pk])
        owners = list(
            Membership.objects.filter(team=fixture.team).values_list("user_id", flat=True)
        )
        companies = list(Company.objects.filter(team=fixture.team).values_list("pk", flat=True))
        params = {
            "pipeline": fixture.pipeline.pk,
            "stages": [s.pk for s in fixture.stages],
            "n_stages": len(fixture.stages),
            "owners": owners,
            "n_owners": len(owners),
            "companies": companies,
            "n_companies": len(companies),
            "count": deals,
        }
        with connection.cursor() as cursor:
            cursor.execute(_DEALS_SQL, params)
        stage_totals_rebuild(stage_ids=[s.pk for s in fixture.stages])
        log(f"Built {deals} open deals in {time.perf_counter() - started:.1f} s.")
    # Fresh statistics (VACUUM cannot run inside a transaction, as in tests: ANALYZE can).
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
    with connection.cursor() as cursor:
        cursor.execute(f"{command} pipeline_deal")
    return fixture


class ApiBench:
    """The deal list timed over HTTP on the fixture above; `stdout` and `stderr` are where
    the progress and the report go (a command's output wrappers)."""

    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(self, *, deals: int, requests: int, json_path: Path, port: int) -> dict:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn_api.log")
        fixture = build_fixture(deals, log=self.stdout.write)
        token, secret = account_services.api_token_create(
            acting_user=None, user=fixture.user, name="bench_api"
        )
        headers = {"Authorization": f"Bearer {secret}"}
        # The benchmark's requests must not meet the per-token throttle.
        os.environ["API_RATE_LIMIT"] = "1000000/min"
        server = bench_server.start_gunicorn(port, log_path, log=self.stdout.write)
        results = []
        try:
            http = bench_http.HttpSession(port, session_key="")
            http.headers = {"Host": f"127.0.0.1:{port}", **headers}
            bench_server.wait_until_up(server, http, "/api/v1/deals?limit=1", log_path)
            paths = {f"deal list, {n} a page": f"/api/v1/deals?limit={n}" for n in PAGE_SIZES}
            paths["deal list, 100 a page, page 50"] = self._deep_path(http, pages=50)
            for name, path in paths.items():
                results.append(self._time(name, path, http, secret, requests))
            http.close()
        finally:
            bench_server.stop_gunicorn(server)
            account_services.api_token_revoke(acting_user=None, token=token)
        floor = self._sql_floor(fixture.user, requests)
        bench_server.report_gunicorn_log(log_path, err=self.stderr.write)
        report = {"deals": deals, "sql_floor_100_ms": floor, "results": results}
        self._print(report)
        json_path.write_text(json.dumps(report, indent=2))
        return report

    def _deep_path(self, http, *, pages: int) -> str:
        """The path of the `pages`-th page of 100 (following the cursors)."""
        path = "/api/v1/deals?limit=100"
        for _ in range(pages - 1):
            status, body = http.request("GET", path)
            cursor = json.loads(body)["next_cursor"] if status == 200 else None
            if cursor is None:
                break
            path = f"/api/v1/deals?limit=100&cursor={cursor}"
        return path

    def _time(self, name: str, path: str, http, secret: str, requests: int) -> dict:
        first = []
        for _ in range(bench_http.WARMUP_REQUESTS):
            started = time.perf_counter()
            status, body = http.request("GET", path)
            first.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise CommandError(f"{name}: {status}\n{bench_http.first_lines(body)}")
        rows = len(json.loads(body)["results"])
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            http.request("GET", path)
            times.append((time.perf_counter() - started) * 1000)
        return {
            "request": name,
            "rows": rows,
            "bytes": len(body),
            "queries": self._queries(path, secret),
            "first": round(max(first), 2),
            **bench_http.timing_summary(times),
        }

    def _queries(self, path: str, secret: str) -> int:
        """The request's SQL queries, counted in-process (the token's lookup included)."""
        with override_settings(
            SECURE_SSL_REDIRECT=False,
            ALLOWED_HOSTS=["testserver"],
            API_RATE_LIMIT="1000000/min",
        ):
            client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
            client.get(path)  # warm; a first use writes last_used_at
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
        if response.status_code != 200:
            self.stderr.write(f"  in-process {path} answered {response.status_code}")
        return len(captured.captured_queries)

    def _sql_floor(self, user: User, requests: int) -> float:
        """The bare SQL of the first 100-row page (the selector's query), run `requests`
        times on one connection: what the database alone costs."""
        from pipeline.selectors import deals_for_user

        queryset = deals_for_user(user=user).order_by("pk")[:101]
        sql, params = queryset.query.sql_with_params()
        times = []
        with connection.cursor() as cursor:
            for _ in range(bench_http.WARMUP_REQUESTS + requests):
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                times.append((time.perf_counter() - started) * 1000)
        return bench_http.timing_summary(times[bench_http.WARMUP_REQUESTS :])["p50"]

    def _print(self, report: dict) -> None:
        self.stdout.write(
            f"\nREST API, {report['deals']} visible deals (SQL floor of a 100-row page: "
            f"{report['sql_floor_100_ms']:.1f} ms)"
        )
        self.stdout.write(
            f"{'request':34} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'first ms':>9} "
            f"{'queries':>8}  target"
        )
        for r in report["results"]:
            verdict = "ok" if r["p50"] < P50_TARGET_MS else "SLOW"
            self.stdout.write(
                f"{r['request']:34} {r['rows']:5d} {r['p50']:8.1f} {r['p95']:8.1f} "
                f"{r['first']:9.1f} {r['queries']:8d}  p50 < {P50_TARGET_MS:.0f} ms: {verdict}"
            )
        counts = {r["queries"] for r in report["results"]}
        same = "the same" if len(counts) == 1 else "NOT the same"
        self.stdout.write(f"Queries per request are {same} for every page size: {sorted(counts)}")
