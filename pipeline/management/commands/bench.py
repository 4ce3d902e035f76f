"""Benchmark the board and the move request against PostgreSQL through a real gunicorn.

    python manage.py bench [--sizes 1000,10000,100000] [--requests 60]
                           [--json bench-results/bench.json] [--port 8765]

Builds (and reuses) an isolated fixture: team "Bench", salesperson `bench`, pipeline
"Bench pipeline" with six stages. For each size N (ascending) the pipeline is set to exactly N
open deals, spread evenly over the stages, written with `INSERT ... SELECT generate_series`.
Then gunicorn (2 sync workers) serves the app and the command times GETs of the board and
htmx moves of one deal between the first two stages over HTTP, counts the board's SQL queries
in-process, and prints the numbers beside the targets of PERFORMANCE.md (also as JSON).

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
from django.db import connection, transaction
from django.db.models import Count, Max
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from accounts.models import Membership, Role, Team, User
from crm.models import Company
from pipeline.models import Deal, DealStatus, Pipeline, Stage
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
        pipeline_id, stage_id, owner_id, company_id, expected_close_date
    )
    SELECT
        (%(titles)s::text[])[1 + (%(seq)s + g) %% %(n_titles)s] || ' #' || (%(seq)s + g),
        (1 + ((%(seq)s + g) * 7919) %% 480) * 250.00,
        (%(currencies)s::text[])[1 + (%(seq)s + g) %% %(n_currencies)s],
        'open',
        %(start)s + g * %(gap)s,
        1,
        now() - make_interval(mins => ((%(seq)s + g) * 37) %% (60 * 24 * 60)),
        now() - make_interval(mins => ((%(seq)s + g) * 37) %% (60 * 24 * 60) + 60 * 24 * 30),
        now(),
        false, false, false, '',
        %(pipeline)s,
        %(stage)s,
        (%(owners)s::bigint[])[1 + (%(seq)s + g) %% %(n_owners)s],
        (%(companies)s::bigint[])[1 + ((%(seq)s + g) * 31) %% %(n_companies)s],
        current_date + (((%(seq)s + g) * 13) %% 240 - 45)
    FROM generate_series(1, %(count)s) AS g
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
                Deal.objects.filter(pk__in=list(doomed)).delete()
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
                            "count": count,
                        },
                    )
                seq += count
                inserted += count
        if inserted or deleted:
            # The rows above bypass the services: bring the kept column totals up to date.
            stage_totals_rebuild(stage_ids=[s.pk for s in fixture.stages])
            with connection.cursor() as cursor:
                for table in ("pipeline_deal", "pipeline_stagechange", "crm_company"):
                    cursor.execute(f"ANALYZE {table}")
    log(
        f"Fixture: {total} open deals in {PIPELINE_NAME!r} "
        f"(+{inserted} / -{deleted}) in {time.perf_counter() - started:.1f} s"
    )
    return fixture


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
        return response.status, data

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

    def handle(self, *args, **options) -> None:
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
        port = int(options["port"])
        json_path = Path(options["json"])
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn.log")

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
        finally:
            if server is not None:
                self._stop_gunicorn(server)
            from django.contrib.sessions.backends.db import SessionStore

            SessionStore(session_key=session_key).delete()
        self._report(results, json_path=json_path, requests=requests)
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

    def _start_gunicorn(self, port: int, log_path: Path) -> subprocess.Popen:
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
            "2",
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

    def _count_board_queries(self, fixture: BenchFixture, path: str) -> tuple[int, list[str]]:
        """The board's SQL queries, counted in-process (the session lookup and user load
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
            client.force_login(fixture.user)
            with warnings.catch_warnings():
                # WhiteNoise warns once that STATIC_ROOT does not exist; the bench needs none.
                warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
                client.get(path)  # warm caches (content types, templates)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            client.logout()
        if response.status_code != 200:
            self.stderr.write(f"  in-process board answered {response.status_code}")
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

    def _report(self, results: list[dict], *, json_path: Path, requests: int) -> None:
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
        self.stdout.write("\n".join(lines))
        payload = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": connection.settings_dict.get("NAME"),
            "requests": requests,
            "warmup_requests": WARMUP_REQUESTS,
            "results": results,
        }
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        self.stdout.write(f"\nJSON written to {json_path}")

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
