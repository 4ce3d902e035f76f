"""Benchmark the board and the move request against PostgreSQL through a real gunicorn.

    python manage.py bench [--sizes 1000,10000,100000] [--requests 60]
                           [--json bench-results/bench.json] [--port 8765]
                           [--scan-sizes 100000,1000000] [--skip-scan]

Builds (and reuses) an isolated fixture: team "Bench", salesperson `bench`, pipeline
"Bench pipeline" with six stages. For each size N (ascending) the pipeline is set to exactly N
open deals, spread evenly over the stages, written with `INSERT ... SELECT generate_series`.
Then gunicorn (2 sync workers) serves the app and the command times GETs of the board and
htmx moves of one deal between the first two stages over HTTP, counts the board's SQL queries
in-process, and prints the numbers beside the targets of PERFORMANCE.md (also as JSON). The
board's deals get real next steps (~70%), so the board is measured with next steps shown.

Then the flag scan: a second pipeline, "Bench scan pipeline", is set to each of --scan-sizes
open deals (see `build_scan_fixture` for the mix), every flag of the bench team is forgotten,
and `manage.py flags_scan_once` runs twice as a worker-like subprocess: the first scan raises
everything, the second is the steady state. Time and peak RSS (wait4) of each are reported.

`make bench` runs it with DEBUG off, plain HTTP and plain static storage.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Count, Max, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.models import Company
from pipeline.models import Deal, DealStatus, Flag, Pipeline, Stage, StageTotal
from pipeline.services import POSITION_GAP, stage_totals_rebuild

TEAM_NAME = "Bench"
USERNAME = "bench"
OTHER_USERNAMES = ["bench_ola", "bench_kari"]
PIPELINE_NAME = "Bench pipeline"
STAGES = [
    ("Lead in", 10),
    ("Qualified", 20),
    ("Discovery done", 35),
    ("Proposal sent", 50),
    ("Decision maker met", 65),
    ("Negotiation", 80),
]
COMPANY_COUNT = 200
CURRENCIES = ["EUR", "DKK", "SEK", "NOK"]
TITLES = [
    "Forklift telematics licences",
    "Warehouse WMS rollout",
    "Fleet tracking for trucks",
    "Cold-chain sensor kit",
    "Route planning licences",
    "Yard management pilot",
    "Dock scheduling module",
    "Handheld scanner refresh",
    "ERP integration package",
    "Driver app rollout",
]
WARMUP_REQUESTS = 5
CSRF_TOKEN = "benchcsrftoken0123456789abcdefgh"  # 32 alphanumerics: a valid CSRF secret

# PERFORMANCE.md targets.
BOARD_P50_TARGET_MS = {10_000: 50.0, 100_000: 80.0}
MAX_QUERIES = 12
MOVE_P50_TARGET_MS = 15.0
SNAPSHOT_TARGET_S = 20.0
SNAPSHOT_TARGET_AT = 1_000_000

ENV_DEFAULTS = {
    "DJANGO_SECRET_KEY": "insecure-key-for-benchmarks-only",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    "DJANGO_PLAIN_STATIC": "1",
}


# --- the fixture ----------------------------------------------------------------------------


@dataclass
class BenchFixture:
    team: Team
    user: User
    others: list[User]
    pipeline: Pipeline
    stages: list[Stage]


def _ensure_base() -> BenchFixture:
    team, _ = Team.objects.get_or_create(name=TEAM_NAME)
    user, created = User.objects.get_or_create(
        username=USERNAME, defaults={"first_name": "Bench", "last_name": "Seller"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.update_or_create(user=user, team=team, defaults={"role": Role.SALESPERSON})
    others = []
    for username in OTHER_USERNAMES:
        other, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": username.split("_")[1].title(), "last_name": "Bench"},
        )
        if created:
            other.set_unusable_password()
            other.save(update_fields=["password"])
        Membership.objects.get_or_create(user=other, team=team, defaults={"role": Role.SALESPERSON})
        others.append(other)
    pipeline, _ = Pipeline.objects.get_or_create(
        team=team, name=PIPELINE_NAME, defaults={"position": 1000}
    )
    stages = []
    for position, (name, probability) in enumerate(STAGES):
        stage, _ = Stage.objects.get_or_create(
            pipeline=pipeline,
            name=name,
            defaults={"position": position, "probability": probability},
        )
        stages.append(stage)
    stages.sort(key=lambda s: (s.position, s.pk))
    existing = Company.objects.filter(team=team).count()
    if existing < COMPANY_COUNT:
        Company.objects.bulk_create(
            [
                Company(
                    team=team,
                    name=f"Bench company {i:03d}",
                    domain=f"bench-company-{i:03d}.example",
                    owner=user if i % 3 else None,
                )
                for i in range(existing + 1, COMPANY_COUNT + 1)
            ]
        )
    return BenchFixture(team=team, user=user, others=others, pipeline=pipeline, stages=stages)


def _stage_targets(total: int, stages: list[Stage]) -> dict[int, int]:
    base, extra = divmod(total, len(stages))
    return {s.pk: base + (1 if i < extra else 0) for i, s in enumerate(stages)}


_INSERT_SQL = """
WITH new AS (
    INSERT INTO pipeline_deal (
        title, value, currency, status, position, version, stage_entered_at, created_at,
        updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
        pipeline_id, stage_id, owner_id, company_id, expected_close_date,
        last_movement_at, rots_at, needs_attention, next_step_subject, pause_reason
    )
    SELECT
        (%(titles)s::text[])[1 + (%(seq)s + g) %% %(n_titles)s] || ' #' || (%(seq)s + g),
        (1 + ((%(seq)s + g) * 7919) %% 480) * 250.00,
        (%(currencies)s::text[])[1 + (%(seq)s + g) %% %(n_currencies)s],
        'open',
        %(start)s + g * %(gap)s,
        1,
        entered,
        entered - make_interval(days => 30),
        entered - make_interval(days => 30),  -- updated_at: last written when created
        false, false, false, '',
        %(pipeline)s,
        %(stage)s,
        (%(owners)s::bigint[])[1 + (%(seq)s + g) %% %(n_owners)s],
        (%(companies)s::bigint[])[1 + ((%(seq)s + g) * 31) %% %(n_companies)s],
        current_date + (((%(seq)s + g) * 13) %% 240 - 45),
        entered,
        entered + make_interval(days => %(rot_days)s),
        false, '', ''
    FROM generate_series(1, %(count)s) AS g,
        LATERAL (
            SELECT now() - make_interval(mins => ((%(seq)s + g) * 37) %% (60 * 24 * 60))
        ) AS t (entered)
    RETURNING id, stage_id, owner_id, created_at
)
INSERT INTO pipeline_stagechange (deal_id, from_stage_id, to_stage_id, user_id, at)
SELECT id, NULL, stage_id, owner_id, created_at FROM new
"""


def build_bench_fixture(total: int, *, log=None) -> BenchFixture:
    """Create the bench fixture (idempotent) and set its pipeline to exactly `total` open
    deals, spread evenly over the six stages, each with one StageChange. Returns the fixture.

    Needs PostgreSQL (`generate_series`, arrays)."""
    if connection.vendor != "postgresql":
        raise CommandError("The bench fixture needs PostgreSQL.")
    log = log or (lambda message: None)
    started = time.perf_counter()
    with transaction.atomic():
        fixture = _ensure_base()
        # Column locks in pk order, like the services, before reading bottom positions.
        list(
            Stage.objects.select_for_update()
            .filter(pk__in=[s.pk for s in fixture.stages])
            .order_by("pk")
        )
        rows = (
            Deal.objects.filter(pipeline=fixture.pipeline, status=DealStatus.OPEN)
            .values("stage_id")
            .annotate(n=Count("pk"), bottom=Max("position"))
            .order_by()
        )
        current = {row["stage_id"]: row["n"] for row in rows}
        bottoms = {row["stage_id"]: row["bottom"] for row in rows}
        targets = _stage_targets(total, fixture.stages)
        owners = [fixture.user.pk] * 8 + [u.pk for u in fixture.others]
        companies = list(
            Company.objects.filter(team=fixture.team).order_by("pk").values_list("pk", flat=True)
        )
        seq = Deal.objects.filter(pipeline=fixture.pipeline).count()
        inserted = deleted = 0
        for stage in fixture.stages:
            have, want = current.get(stage.pk, 0), targets[stage.pk]
            if have > want:
                # Shrink: drop the bottom cards of the column (with their history).
                doomed = (
                    Deal.objects.filter(stage=stage, status=DealStatus.OPEN)
                    .order_by("-position", "-pk")
                    .values_list("pk", flat=True)[: have - want]
                )
                delete_deals("id = ANY(%s)", [list(doomed)])
                deleted += have - want
            elif want > have:
                count = want - have
                with connection.cursor() as cursor:
                    cursor.execute(
                        _INSERT_SQL,
                        {
                            "titles": TITLES,
                            "n_titles": len(TITLES),
                            "currencies": CURRENCIES,
                            "n_currencies": len(CURRENCIES),
                            "owners": owners,
                            "n_owners": len(owners),
                            "companies": companies,
                            "n_companies": len(companies),
                            "seq": seq,
                            "start": bottoms.get(stage.pk) or 0,
                            "gap": POSITION_GAP,
                            "pipeline": fixture.pipeline.pk,
                            "stage": stage.pk,
                            "rot_days": stage.rot_days,
                            "count": count,
                        },
                    )
                seq += count
                inserted += count
        if inserted:
            plan_next_steps(fixture.pipeline.pk)
        if inserted or deleted:
            # The rows above bypass the services: bring the kept column totals up to date.
            stage_totals_rebuild(stage_ids=[s.pk for s in fixture.stages])
            with connection.cursor() as cursor:
                for table in (
                    "pipeline_deal",
                    "pipeline_activity",
                    "pipeline_stagechange",
                    "crm_company",
                ):
                    cursor.execute(f"ANALYZE {table}")
    log(
        f"Fixture: {total} open deals in {PIPELINE_NAME!r} "
        f"(+{inserted} / -{deleted}) in {time.perf_counter() - started:.1f} s"
    )
    return fixture


# --- deleting and next steps, set-based ------------------------------------------------------


def _delete_rows(model, where: str, params: list, *, depth: int = 0) -> None:
    """DELETE FROM model's table WHERE `where`, first deleting (CASCADE) or clearing (SET_NULL)
    what refers to those rows, as found in the models' metadata, so whatever refers to a deal
    today or later is handled. Set-based: a few statements whatever the number of rows (the
    ORM's delete() would load every related row into Python)."""
    if depth > 4:
        raise CommandError(f"Cascade too deep at {model.__name__}.")
    table = model._meta.db_table
    pk = model._meta.pk.column
    doomed = f"SELECT {pk} FROM {table} WHERE {where}"
    # include_hidden: relations named "+" (a notification's flag, a deal's next step) count too.
    for rel in model._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        related, column = rel.related_model, rel.field.column
        if rel.on_delete is models.CASCADE:
            _delete_rows(related, f"{column} IN ({doomed})", params, depth=depth + 1)
        elif rel.on_delete is models.SET_NULL:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {related._meta.db_table} SET {column} = NULL "
                    f"WHERE {column} IN ({doomed})",
                    params,
                )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)


def delete_deals(where: str, params: list) -> None:
    """Delete the deals matching a WHERE clause on pipeline_deal, with everything of theirs
    (their part of the analytics' monthly sums first)."""
    from pipeline.services.analytics import analytics_forget_matching

    analytics_forget_matching(where, params)
    _delete_rows(Deal, where, params)


_NEXT_STEPS_SQL = """
WITH picked AS (
    SELECT id, owner_id FROM pipeline_deal
    WHERE pipeline_id = %(pipeline)s AND status = 'open' AND next_step_id IS NULL
        AND id %% 10 < 7
), planned AS (
    INSERT INTO pipeline_activity (
        deal_id, kind, subject, due_date, due_time, assignee_id, note, done_at, created_by_id,
        created_at
    )
    SELECT
        id, 'call', (%(subjects)s::text[])[1 + id %% %(n_subjects)s],
        CASE WHEN id %% 10 = 0 THEN current_date - (1 + id %% 20)::int
             ELSE current_date + (1 + id %% 30)::int END,
        NULL, owner_id, '', NULL, owner_id, now()
    FROM picked
    RETURNING id, deal_id, subject, due_date, assignee_id
)
UPDATE pipeline_deal AS d
SET next_step_id = p.id, next_step_subject = p.subject, next_step_due = p.due_date,
    next_step_assignee_id = p.assignee_id
FROM planned AS p
WHERE d.id = p.deal_id
"""
NEXT_STEP_SUBJECTS = [
    "Call about the pilot",
    "Send the revised offer",
    "Demo for the warehouse team",
    "Agree the rollout date",
]


def plan_next_steps(pipeline_id: int) -> int:
    """Give ~70% of the pipeline's open deals without a next step a real open activity as their
    next step (id % 10 < 7), copied onto the deal as the services do; of them id % 10 = 0 (~10%
    of all deals) is overdue, the rest due in 1-30 days. Two statements whatever the count."""
    with connection.cursor() as cursor:
        cursor.execute(
            _NEXT_STEPS_SQL,
            {
                "pipeline": pipeline_id,
                "subjects": NEXT_STEP_SUBJECTS,
                "n_subjects": len(NEXT_STEP_SUBJECTS),
            },
        )
        return cursor.rowcount


# --- the flag-scan fixture ------------------------------------------------------------------

SCAN_PIPELINE_NAME = "Bench scan pipeline"
SCAN_TARGET_S = 10.0
SCAN_TARGET_AT = 1_000_000
SCAN_RSS_GROWTH_MAX = 1.5

_SCAN_INSERT_SQL = """
INSERT INTO pipeline_deal (
    title, value, currency, status, position, version, stage_entered_at, created_at,
    updated_at, decision_maker_known, timeline_confirmed, need_confirmed, lost_note,
    pipeline_id, stage_id, owner_id, last_movement_at, rots_at, needs_attention,
    next_step_subject, pause_reason
)
SELECT
    'Scan deal #' || k,
    (1 + (k * 7919) %% 480) * 250.00,
    (%(currencies)s::text[])[1 + k %% %(n_currencies)s],
    'open',
    k * %(gap)s,
    1,
    moved, moved - make_interval(days => 30), moved - make_interval(days => 30),
    false, false, false, '',
    %(pipeline)s,
    (%(stages)s::bigint[])[1 + k %% %(n_stages)s],
    (%(owners)s::bigint[])[1 + k %% %(n_owners)s],
    moved,
    moved + make_interval(days => %(rot_days)s),
    false, '', ''
FROM generate_series(%(seq)s::bigint + 1, %(seq)s::bigint + %(count)s) AS k,
    LATERAL (
        SELECT CASE WHEN k %% 10 = 7
            THEN now() - make_interval(days => %(rot_days)s + 1 + (k %% 30)::int)
            ELSE now() - make_interval(mins => ((k * 37) %% (60 * 24 * 7))::int) END
    ) AS t (moved)
"""


def build_scan_fixture(total: int, *, base: BenchFixture, log=None) -> Pipeline:
    """The separate pipeline the flag scan is measured on, set to exactly `total` open deals
    (no stage history: the scan does not read it), with the mix the scan has to sort out:

    - ~70% have a real open activity as their next step (id % 10 < 7), ~30% have none;
    - ~10% have an overdue next step (id % 10 = 0, due 1-20 days ago), the others are due in
      1-30 days;
    - ~10% are stale (k % 10 = 7: last movement longer ago than the stage's rot days), the
      others moved within the last week.

    Dates are relative to the day the rows were written, so a fixture reused on a later day
    drifts towards overdue and stale; the measured mix is reported with the results."""
    log = log or (lambda message: None)
    started = time.perf_counter()
    with transaction.atomic():
        pipeline, _ = Pipeline.objects.get_or_create(
            team=base.team, name=SCAN_PIPELINE_NAME, defaults={"position": 1001}
        )
        stages = []
        for position, (name, probability) in enumerate(STAGES):
            stage, _ = Stage.objects.get_or_create(
                pipeline=pipeline,
                name=name,
                defaults={"position": position, "probability": probability},
            )
            stages.append(stage)
        stages.sort(key=lambda s: (s.position, s.pk))
        deals = Deal.objects.filter(pipeline=pipeline)
        have = deals.count()
        inserted = deleted = 0
        if have > total:
            cutoff = deals.order_by("pk").values_list("pk", flat=True)[total]
            delete_deals("pipeline_id = %s AND id >= %s", [pipeline.pk, cutoff])
            deleted = have - total
        elif total > have:
            seq = deals.aggregate(top=Max("position"))["top"] or 0
            seq //= POSITION_GAP
            owners = [base.user.pk] * 8 + [u.pk for u in base.others]
            with connection.cursor() as cursor:
                cursor.execute(
                    _SCAN_INSERT_SQL,
                    {
                        "currencies": CURRENCIES,
                        "n_currencies": len(CURRENCIES),
                        "gap": POSITION_GAP,
                        "pipeline": pipeline.pk,
                        "stages": [s.pk for s in stages],
                        "n_stages": len(stages),
                        "owners": owners,
                        "n_owners": len(owners),
                        "rot_days": stages[0].rot_days,
                        "seq": seq,
                        "count": total - have,
                    },
                )
            inserted = total - have
            plan_next_steps(pipeline.pk)
        if inserted or deleted:
            stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    if inserted or deleted:
        _vacuum_analyze()
    log(
        f"Scan fixture: {total} open deals in {SCAN_PIPELINE_NAME!r} "
        f"(+{inserted} / -{deleted}) in {time.perf_counter() - started:.1f} s"
    )
    return pipeline


def _vacuum_analyze() -> None:
    """Fresh statistics and visibility maps after bulk writes, so autovacuum does not start in
    the middle of a timed scan (VACUUM cannot run inside a transaction)."""
    with connection.cursor() as cursor:
        for table in (
            "pipeline_deal",
            "pipeline_activity",
            "pipeline_flag",
            "pipeline_notification",
            "pipeline_stagetotal",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def reset_flags(team: Team) -> int:
    """Forget every flag of the bench team's deals (and the notifications about them), so the
    next scan raises everything from scratch, as on the first run after a deploy."""
    bench_deals = (
        "SELECT d.id FROM pipeline_deal d JOIN pipeline_pipeline p ON p.id = d.pipeline_id"
    )
    with transaction.atomic():
        count = Flag.objects.filter(deal__pipeline__team=team).count()
        _delete_rows(Flag, f"deal_id IN ({bench_deals} WHERE p.team_id = %s)", [team.pk])
        Deal.objects.filter(pipeline__team=team, needs_attention=True).update(needs_attention=False)
        StageTotal.objects.filter(stage__pipeline__team=team).update(attention=0)
    _vacuum_analyze()
    return count


def scan_mix(pipeline: Pipeline) -> dict[str, int]:
    """What the scan will find in the scan pipeline now (one pass over its deals)."""
    now = timezone.now()
    today = timezone.localdate(now)
    open_deals = Deal.objects.filter(pipeline=pipeline, status=DealStatus.OPEN)
    return open_deals.aggregate(
        open=Count("pk"),
        with_next_step=Count("pk", filter=Q(next_step__isnull=False)),
        overdue=Count("pk", filter=Q(next_step_due__lt=today)),
        stale=Count("pk", filter=Q(rots_at__lt=now)),
    )


# --- measuring ------------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(_percentile(values, 95), 2),
        "mean": round(statistics.fmean(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def _board_target(size: int) -> float:
    return BOARD_P50_TARGET_MS[10_000] if size <= 10_000 else BOARD_P50_TARGET_MS[100_000]


class HttpSession:
    """A keep-alive HTTP/1.1 connection with the bench user's cookies (reconnects when the
    server closes the connection, as gunicorn's sync workers do)."""

    def __init__(self, port: int, session_key: str):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {
            "Host": f"127.0.0.1:{port}",
            "Cookie": f"sessionid={session_key}; csrftoken={CSRF_TOKEN}",
        }

    def request(self, method: str, path: str, *, body: str | None = None, headers=None):
        response, data = self.send(method, path, body=body, headers=headers)
        return response.status, data

    def send(self, method: str, path: str, *, body: str | None = None, headers=None):
        """The response (its status and headers) and its body."""
        all_headers = {**self.headers, **(headers or {})}
        try:
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.will_close:
            self.conn.close()
        return response, data

    def close(self) -> None:
        self.conn.close()


def _first_lines(body: bytes, n: int = 15) -> str:
    return "\n".join(body.decode("utf-8", "replace").strip().splitlines()[:n])


class Command(BaseCommand):
    help = "Benchmark the board and moves over HTTP against PostgreSQL (see PERFORMANCE.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sizes", default="1000,10000,100000", help="Open deal counts.")
        parser.add_argument("--requests", type=int, default=60, help="Timed requests per size.")
        parser.add_argument("--json", default="bench-results/bench.json", help="JSON output.")
        parser.add_argument("--port", type=int, default=8765, help="Port for gunicorn.")
        parser.add_argument(
            "--scan-sizes",
            default="100000,1000000",
            help="Open deal counts of the scan pipeline for the flag-scan measurement.",
        )
        parser.add_argument(
            "--skip-scan", action="store_true", help="Leave out the flag-scan measurement."
        )
        parser.add_argument(
            "--forecast-size", type=int, default=100_000, help="Open deals behind the forecast."
        )
        parser.add_argument(
            "--review-size", type=int, default=10_000, help="Open deals in the reviewed team."
        )
        parser.add_argument(
            "--skip-pages", action="store_true", help="Leave out the forecast and review pages."
        )
        parser.add_argument(
            "--skip-snapshot", action="store_true", help="Leave out the weekly snapshot."
        )

    def handle(self, *args, **options) -> None:
        from . import _bench_pages

        if connection.vendor != "postgresql":
            raise CommandError(
                f"bench needs PostgreSQL, but the database is {connection.vendor}. "
                "Run `make bench` (DATABASE_URL=postgres://...)."
            )
        try:
            sizes = sorted({int(s) for s in str(options["sizes"]).split(",") if s.strip()})
        except ValueError as error:
            raise CommandError("--sizes must be comma-separated integers.") from error
        if not sizes or sizes[0] < 12:
            raise CommandError("--sizes needs at least one size of 12 or more.")
        requests = int(options["requests"])
        if requests < 1:
            raise CommandError("--requests must be 1 or more.")
        try:
            scan_sizes = sorted(
                {int(s) for s in str(options["scan_sizes"]).split(",") if s.strip()}
            )
        except ValueError as error:
            raise CommandError("--scan-sizes must be comma-separated integers.") from error
        if options["skip_scan"]:
            scan_sizes = []
        elif not scan_sizes or scan_sizes[0] < 12:
            raise CommandError("--scan-sizes needs at least one size of 12 or more.")
        port = int(options["port"])
        json_path = Path(options["json"])
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn.log")

        pages: list[dict] = []
        fixture = build_bench_fixture(sizes[0], log=self.stdout.write)
        session_key = self._login_session(fixture.user)
        server = None
        results = []
        try:
            server = self._start_gunicorn(port, log_path)
            http_session = HttpSession(port, session_key)
            board_path = reverse("board", args=[fixture.pipeline.pk])
            self._wait_until_up(server, http_session, board_path, log_path)
            for size in sizes:
                fixture = build_bench_fixture(size, log=self.stdout.write)
                results.append(
                    self._measure(
                        size=size,
                        fixture=fixture,
                        http=http_session,
                        board_path=board_path,
                        requests=requests,
                    )
                )
            http_session.close()
            if not options["skip_pages"]:
                pages = self._measure_pages(
                    port=port,
                    requests=requests,
                    forecast_size=options["forecast_size"],
                    review_size=options["review_size"],
                )
        finally:
            if server is not None:
                self._stop_gunicorn(server)
            from django.contrib.sessions.backends.db import SessionStore

            SessionStore(session_key=session_key).delete()
        scans = self._measure_scans(scan_sizes, fixture) if scan_sizes else []
        snapshot = None
        if not options["skip_snapshot"]:
            snapshot = _bench_pages.take_snapshot_now(log=self.stdout.write)
            snapshot["target"] = f"< {SNAPSHOT_TARGET_S:g} s at {SNAPSHOT_TARGET_AT} open deals"
            snapshot["pass"] = "error" not in snapshot and (
                snapshot["open_deals"] < SNAPSHOT_TARGET_AT
                or snapshot["seconds"] < SNAPSHOT_TARGET_S
            )
        self._report(
            results,
            scans,
            json_path=json_path,
            requests=requests,
            pages=pages,
            snapshot=snapshot,
        )
        self._report_gunicorn_log(log_path)

    # --- set-up ---------------------------------------------------------------------------

    def _login_session(self, user: User) -> str:
        from importlib import import_module

        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = user._meta.pk.value_to_string(user)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return store.session_key

    def _start_gunicorn(self, port: int, log_path: Path, *, workers: int = 2) -> subprocess.Popen:
        with socket.socket() as probe:
            # Like gunicorn: connections of an earlier run in TIME_WAIT don't block the port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as error:
                raise CommandError(f"Port {port} is in use; pass --port.") from error
        gunicorn = Path(sys.executable).parent / "gunicorn"
        if not gunicorn.exists():
            found = shutil.which("gunicorn")
            if not found:
                raise CommandError("gunicorn is not installed (pip install -e '.[dev]').")
            gunicorn = Path(found)
        env = os.environ.copy()
        for key, value in ENV_DEFAULTS.items():
            env.setdefault(key, value)
        env.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
        command = [
            str(gunicorn),
            "crm.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
        ]
        self.stdout.write(f"Starting {' '.join(command[1:])} (log: {log_path})")
        log = open(log_path, "wb")  # handed to the child, closed in _stop_gunicorn
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        process.bench_log = log
        return process

    def _wait_until_up(self, server, http: HttpSession, path: str, log_path: Path) -> None:
        deadline = time.monotonic() + 30
        last_error = ""
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(
                    f"gunicorn exited with {server.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                status, body = http.request("GET", path)
            except OSError as error:
                last_error = str(error)
                http.close()
                time.sleep(0.2)
                continue
            if status == 200:
                return
            raise CommandError(
                f"GET {path} answered {status} while starting:\n{_first_lines(body)}"
            )
        raise CommandError(f"gunicorn did not answer within 30 s ({last_error}).")

    def _stop_gunicorn(self, server: subprocess.Popen) -> None:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
        server.bench_log.close()

    # --- one size -------------------------------------------------------------------------

    def _measure(
        self, *, size: int, fixture: BenchFixture, http: HttpSession, board_path: str, requests: int
    ) -> dict:
        self.stdout.write(f"Measuring {size} open deals ...")
        errors: list[str] = []

        # Board over HTTP.
        html_bytes = 0
        for _ in range(WARMUP_REQUESTS):
            status, body = http.request("GET", board_path)
            html_bytes = len(body)
            if status != 200:
                errors.append(f"board warm-up: {status}\n{_first_lines(body)}")
                break
        board_times = []
        for _ in range(requests):
            started = time.perf_counter()
            status, body = http.request("GET", board_path)
            board_times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors.append(f"board: {status}\n{_first_lines(body)}")
                break

        queries, query_sql = self._count_board_queries(fixture, board_path)

        # Moves over HTTP: one bench-owned deal alternates between the first two stages.
        first, second = fixture.stages[0], fixture.stages[1]
        deal = (
            Deal.objects.filter(stage=first, status=DealStatus.OPEN, owner=fixture.user)
            .order_by("position", "pk")
            .values_list("pk", flat=True)[1:2]
        )
        deal_id = deal[0]
        after = {}
        for stage in (first, second):
            top = (
                Deal.objects.filter(stage=stage, status=DealStatus.OPEN)
                .exclude(pk=deal_id)
                .order_by("position", "pk")
                .values_list("pk", flat=True)
                .first()
            )
            after[stage.pk] = top or ""
        move_path = reverse("deal-move", args=[deal_id])

        def move() -> tuple[int, bytes, float]:
            version, stage_id = Deal.objects.values_list("version", "stage_id").get(pk=deal_id)
            target = second if stage_id == first.pk else first
            body = (
                f"stage={target.pk}&version={version}&after={after[target.pk]}"
                "&loaded=20&from_loaded=20"
            )
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": CSRF_TOKEN,
                "HX-Request": "true",
            }
            started = time.perf_counter()
            status, data = http.request("POST", move_path, body=body, headers=headers)
            return status, data, (time.perf_counter() - started) * 1000

        move_times = []
        move_bytes = 0
        for _ in range(4):  # even: the deal ends where it started
            status, data, _elapsed = move()
            if status != 200:
                errors.append(f"move warm-up: {status}\n{_first_lines(data)}")
                break
        if not any(e.startswith("move warm-up") for e in errors):
            for _ in range(requests):
                status, data, elapsed = move()
                move_times.append(elapsed)
                move_bytes = len(data)
                if status != 200:
                    errors.append(f"move: {status}\n{_first_lines(data)}")
                    break
        if Deal.objects.filter(pk=deal_id).values_list("stage_id", flat=True).get() != first.pk:
            status, data, _elapsed = move()  # put it back, so the columns keep their sizes
            if status != 200:
                errors.append(f"move back: {status}\n{_first_lines(data)}")

        for error in errors:
            self.stderr.write(f"  ERROR at {size}: {error}")
        result = {
            "open_deals": size,
            "board_ms": _summary(board_times) if board_times else None,
            "board_html_kb": round(html_bytes / 1024, 1),
            "queries": queries,
            "query_sql": query_sql,
            "move_ms": _summary(move_times) if move_times else None,
            "move_html_kb": round(move_bytes / 1024, 1),
            "requests": requests,
            "errors": errors,
        }
        result["targets"] = self._verdicts(result)
        return result

    # --- the manager's pages --------------------------------------------------------------

    def _measure_pages(
        self, *, port: int, requests: int, forecast_size: int, review_size: int
    ) -> list[dict]:
        """The forecast page (default view: 6 months by rep) as the manager of a team with
        `forecast_size` open deals, and the weekly review page as the manager of a team with
        `review_size` open deals; each over HTTP like the board, with its queries counted."""
        from django.contrib.sessions.backends.db import SessionStore

        from . import _bench_pages

        scenarios = [
            ("forecast", "Bench forecast", "fcst", forecast_size, reverse("forecast"), 150.0),
            # Loaded by the forecast page right after it (hx-trigger="load").
            (
                "changes",
                "Bench forecast",
                "fcst",
                forecast_size,
                reverse("forecast-changes"),
                150.0,
            ),
            ("review", "Bench review", "rvw", review_size, reverse("review"), 100.0),
        ]
        results = []
        for name, team_name, prefix, size, path, target in scenarios:
            fixture = _bench_pages.build_page_fixture(
                team_name=team_name,
                prefix=prefix,
                open_deals=size,
                closed_deals=max(size // 10, 100),
                log=self.stdout.write,
            )
            key = self._login_session(fixture.manager)
            http_session = HttpSession(port, key)
            self.stdout.write(f"Measuring the {name} page over {size} open deals ...")
            errors, times, html_bytes = [], [], 0
            try:
                for i in range(WARMUP_REQUESTS + requests):
                    started = time.perf_counter()
                    status, body = http_session.request("GET", path)
                    elapsed = (time.perf_counter() - started) * 1000
                    if status != 200:
                        errors.append(f"{name}: {status}\n{_first_lines(body)}")
                        break
                    if i >= WARMUP_REQUESTS:
                        times.append(elapsed)
                        html_bytes = len(body)
            finally:
                http_session.close()
                SessionStore(session_key=key).delete()
            queries, _sql = self._count_queries(fixture.manager, path)
            for error in errors:
                self.stderr.write(f"  ERROR: {error}")
            summary = _summary(times) if times else None
            results.append(
                {
                    "page": name,
                    "open_deals": size,
                    "ms": summary,
                    "queries": queries,
                    "html_kb": round(html_bytes / 1024, 1),
                    "target": f"p50 < {target:g} ms",
                    "pass": bool(summary) and not errors and summary["p50"] < target,
                    "errors": errors,
                }
            )
        return results

    # --- the flag scan ------------------------------------------------------------------------

    def _measure_scans(self, sizes: list[int], base: BenchFixture) -> list[dict]:
        """For each size: the scan pipeline at that many open deals, every bench flag
        forgotten, then two scans in a worker-like subprocess: the first raises everything,
        the second is the steady state a periodic run sees."""
        results = []
        for size in sizes:
            pipeline = build_scan_fixture(size, base=base, log=self.stdout.write)
            forgotten = reset_flags(base.team)
            mix = scan_mix(pipeline)
            open_total = Deal.objects.filter(status=DealStatus.OPEN).count()
            self.stdout.write(
                f"Scanning {open_total} open deals ({size} in the scan pipeline; "
                f"{forgotten} earlier flags forgotten) ..."
            )
            runs = {}
            for run in ("first", "steady"):
                try:
                    runs[run] = self._scan_once()
                except CommandError as error:
                    # Report what was measured so far instead of losing the whole table.
                    self.stderr.write(f"  ERROR in the {run} scan at {size}: {error}")
                    runs[run] = {"error": str(error)}
                    break
                r = runs[run]
                self.stdout.write(
                    f"  {run}: {r['seconds']:.2f} s in the scan, {r['process_s']:.2f} s for the "
                    f"process, peak RSS {r['peak_rss_mb']:.0f} MB, raised {r['raised']}, "
                    f"resolved {r['resolved']}"
                )
            results.append(
                {
                    "scan_deals": size,
                    "open_deals_in_database": open_total,
                    "mix": mix,
                    "open_flags": Flag.objects.filter(resolved_at__isnull=True).count(),
                    "first": runs["first"],
                    "steady": runs.get("steady", {"error": "not run"}),
                }
            )
            if any("error" in run for run in runs.values()):
                break
        self._scan_verdicts(results)
        return results

    def _scan_once(self) -> dict:
        """`manage.py flags_scan_once` as a child process: its wall time, the scan's own time
        and the child's peak resident memory (from wait4, so only this child counts)."""
        env = os.environ.copy()
        for key, value in ENV_DEFAULTS.items():
            env.setdefault(key, value)
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "flags_scan_once"]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # The outputs are a line of JSON and (normally) nothing: they fit the pipes' buffers.
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out, err = process.stdout.read(), process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        if process.returncode != 0:
            raise CommandError(
                f"flags_scan_once exited with {process.returncode}:\n"
                f"{err.decode(errors='replace')[-3000:]}"
            )
        payload = json.loads(out.decode().strip().splitlines()[-1])
        return {
            "seconds": payload["seconds"],
            "process_s": round(elapsed, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "raised": payload["raised"],
            "resolved": payload["resolved"],
        }

    def _scan_verdicts(self, results: list[dict]) -> None:
        """Scan time < 10 s at 1M open deals (first and steady state judged separately);
        memory flat: peak RSS at the largest size within 1.5x of the smallest."""
        smallest = results[0]
        for r in results:
            targets = {}
            if r["scan_deals"] >= SCAN_TARGET_AT:
                for run in ("first", "steady"):
                    targets[f"{run}_scan_s"] = {
                        "target": f"< {SCAN_TARGET_S:g}",
                        "pass": "error" not in r[run] and r[run]["seconds"] < SCAN_TARGET_S,
                    }
            if r is not smallest:
                for run in ("first", "steady"):
                    if "error" in r[run] or "error" in smallest[run]:
                        targets[f"{run}_rss_flat"] = {"target": "measured", "pass": False}
                        continue
                    ratio = r[run]["peak_rss_mb"] / smallest[run]["peak_rss_mb"]
                    r[run]["rss_vs_smallest"] = round(ratio, 2)
                    targets[f"{run}_rss_flat"] = {
                        "target": f"<= {SCAN_RSS_GROWTH_MAX:g}x of {smallest['scan_deals']}",
                        "pass": ratio <= SCAN_RSS_GROWTH_MAX,
                    }
            r["targets"] = targets

    def _count_board_queries(self, fixture: BenchFixture, path: str) -> tuple[int, list[str]]:
        return self._count_queries(fixture.user, path)

    def _count_queries(self, user: User, path: str) -> tuple[int, list[str]]:
        """A page's SQL queries, counted in-process (the session lookup and user load
        included; force_login itself is not)."""
        with override_settings(
            SECURE_SSL_REDIRECT=False,
            ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
            STORAGES={
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ):
            client = Client()
            client.force_login(user)
            with warnings.catch_warnings():
                # WhiteNoise warns once that STATIC_ROOT does not exist; the bench needs none.
                warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
                client.get(path)  # warm caches (content types, templates)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            client.logout()
        if response.status_code != 200:
            self.stderr.write(f"  in-process {path} answered {response.status_code}")
        return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]

    def _verdicts(self, result: dict) -> dict:
        size = result["open_deals"]
        board_target = _board_target(size)
        board = result["board_ms"]["p50"] if result["board_ms"] else None
        move = result["move_ms"]["p50"] if result["move_ms"] else None
        return {
            "board_p50_ms": {
                "target": f"< {board_target:g}",
                "pass": board is not None and board < board_target,
            },
            "queries": {"target": f"<= {MAX_QUERIES}", "pass": result["queries"] <= MAX_QUERIES},
            "move_p50_ms": {
                "target": f"< {MOVE_P50_TARGET_MS:g}",
                "pass": move is not None and move < MOVE_P50_TARGET_MS,
            },
            "no_errors": {"target": "all 200", "pass": not result["errors"]},
        }

    # --- output ---------------------------------------------------------------------------

    def _report(
        self,
        results: list[dict],
        scans: list[dict],
        *,
        json_path: Path,
        requests: int,
        pages: list[dict],
        snapshot: dict | None,
    ) -> None:
        columns = ["open deals", "board p50", "board p95", "queries", "move p50", "move p95"]
        columns += ["board KB", "vs targets"]
        widths = [len(c) for c in columns]

        def ms(summary, key):
            return f"{summary[key]:.1f} ms" if summary else "n/a"

        lines = ["", f"Results ({requests} timed requests each, gunicorn 2 sync workers):"]
        lines.append(" | ".join(columns))
        lines.append("-" * len(lines[-1]))
        for r in results:
            misses = [name for name, v in r["targets"].items() if not v["pass"]]
            verdict = "PASS" if not misses else "MISS: " + ", ".join(misses)
            cells = [
                str(r["open_deals"]),
                ms(r["board_ms"], "p50"),
                ms(r["board_ms"], "p95"),
                str(r["queries"]),
                ms(r["move_ms"], "p50"),
                ms(r["move_ms"], "p95"),
                f"{r['board_html_kb']:.1f}",
            ]
            row = [cell.rjust(width) for cell, width in zip(cells, widths, strict=False)]
            lines.append(" | ".join([*row, verdict]))
        lines += [
            "",
            "Targets (PERFORMANCE.md): board p50 < 50 ms up to 10k open deals, < 80 ms at 100k; "
            f"at most {MAX_QUERIES} SQL queries per board; move p50 < {MOVE_P50_TARGET_MS:g} ms.",
        ]
        for r in results:
            t = r["targets"]
            lines.append(
                f"  {r['open_deals']:>7}: "
                + "  ".join(
                    f"{name} {v['target']} {'PASS' if v['pass'] else 'MISS'}"
                    for name, v in t.items()
                )
            )
        if pages:
            lines += ["", "Manager pages (as the team's manager, over HTTP like the board):"]
            for p in pages:
                timing = (
                    f"p50 {p['ms']['p50']:.1f} ms, p95 {p['ms']['p95']:.1f} ms"
                    if p["ms"]
                    else "n/a"
                )
                lines.append(
                    f"  {p['page']:<9} {p['open_deals']:>7} open deals: {timing}, "
                    f"{p['queries']} queries, {p['html_kb']:.0f} KB; "
                    f"{p['target']} {'PASS' if p['pass'] else 'MISS'}"
                )
        lines += self._scan_lines(scans)
        if snapshot:
            lines += [
                "",
                "Weekly snapshot (`manage.py forecast_snapshot` as a subprocess):",
                f"  {snapshot['open_deals']} open deals: {snapshot['seconds']:.2f} s, peak RSS "
                f"{snapshot['peak_rss_mb']:.0f} MB, {snapshot['lines']} lines; "
                f"{snapshot['target']} {'PASS' if snapshot['pass'] else 'MISS'}",
            ]
            if "error" in snapshot:
                lines.append(f"  ERROR: {snapshot['error'][:500]}")
        self.stdout.write("\n".join(lines))
        payload = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": connection.settings_dict.get("NAME"),
            "requests": requests,
            "warmup_requests": WARMUP_REQUESTS,
            "results": results,
            "flag_scan": scans,
            "pages": pages,
            "snapshot": snapshot,
        }
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        self.stdout.write(f"\nJSON written to {json_path}")

    def _scan_lines(self, scans: list[dict]) -> list[str]:
        if not scans:
            return []
        columns = ["scan deals", "open in db", "run   ", "scan   ", "process", "peak RSS"]
        columns += ["raised", "resolved", "vs targets"]
        widths = [len(c) for c in columns]
        lines = ["", "Flag scan (`manage.py flags_scan_once` as a worker-like subprocess):"]
        lines.append(" | ".join(columns))
        lines.append("-" * len(lines[-1]))
        for r in scans:
            for run in ("first", "steady"):
                x = r[run]
                if "error" in x:
                    lines.append(f"{r['scan_deals']:>10} | {run}: ERROR {x['error'][:200]}")
                    continue
                misses = [
                    name
                    for name, v in r["targets"].items()
                    if not v["pass"] and name.startswith("first") == (run == "first")
                ]
                cells = [
                    str(r["scan_deals"]),
                    str(r["open_deals_in_database"]),
                    run,
                    f"{x['seconds']:.2f} s",
                    f"{x['process_s']:.2f} s",
                    f"{x['peak_rss_mb']:.0f} MB",
                    str(x["raised"]),
                    str(x["resolved"]),
                ]
                row = [cell.rjust(width) for cell, width in zip(cells, widths, strict=False)]
                lines.append(
                    " | ".join([*row, "PASS" if not misses else "MISS: " + ", ".join(misses)])
                )
        lines += [
            "",
            f"Targets (PERFORMANCE.md): scan < {SCAN_TARGET_S:g} s at {SCAN_TARGET_AT} open deals; "
            f"memory flat (peak RSS within {SCAN_RSS_GROWTH_MAX:g}x of the smallest size).",
        ]
        for r in scans:
            mix = r["mix"]
            lines.append(
                f"  {r['scan_deals']:>7}: mix {mix['with_next_step']} with a next step, "
                f"{mix['overdue']} overdue, {mix['stale']} stale of {mix['open']}; "
                + "  ".join(
                    f"{name} {v['target']} {'PASS' if v['pass'] else 'MISS'}"
                    for name, v in r["targets"].items()
                )
            )
        return lines

    def _report_gunicorn_log(self, log_path: Path) -> None:
        if not log_path.exists():
            return
        noisy = ("Traceback", "ERROR", "Error", "WARNING", "CRITICAL", "Exception")
        lines = log_path.read_text(errors="replace").splitlines()
        bad = [line for line in lines if any(word in line for word in noisy)]
        if bad:
            self.stderr.write(f"gunicorn reported problems ({log_path}):")
            for line in bad[:40]:
                self.stderr.write(f"  {line}")
