"""`manage.py bench`: the board, the move, the manager pages, the flag scan and the weekly
snapshot timed against PostgreSQL through gunicorn, beside their targets
(docs/performance.md)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from accounts.models import User
from crm.devtools import bench_pages
from crm.devtools.bench_fixtures import (
    BenchFixture,
    build_bench_fixture,
    build_scan_fixture,
    reset_flags,
    scan_mix,
)
from crm.devtools.bench_http import (
    CSRF_TOKEN,
    WARMUP_REQUESTS,
    HttpSession,
    first_lines,
    timing_summary,
)
from pipeline.models import Deal, DealStatus, Flag

# docs/performance.md targets.
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


SCAN_TARGET_S = 10.0


SCAN_TARGET_AT = 1_000_000


SCAN_RSS_GROWTH_MAX = 1.5


def _board_target(size: int) -> float:
    return BOARD_P50_TARGET_MS[10_000] if size <= 10_000 else BOARD_P50_TARGET_MS[100_000]


class Command(BaseCommand):
    help = "Benchmark the board and moves over HTTP against PostgreSQL (see docs/performance.md)."

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
            snapshot = bench_pages.take_snapshot_now(log=self.stdout.write)
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
            raise CommandError(f"GET {path} answered {status} while starting:\n{first_lines(body)}")
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
                errors.append(f"board warm-up: {status}\n{first_lines(body)}")
                break
        board_times = []
        for _ in range(requests):
            started = time.perf_counter()
            status, body = http.request("GET", board_path)
            board_times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors.append(f"board: {status}\n{first_lines(body)}")
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
                errors.append(f"move warm-up: {status}\n{first_lines(data)}")
                break
        if not any(e.startswith("move warm-up") for e in errors):
            for _ in range(requests):
                status, data, elapsed = move()
                move_times.append(elapsed)
                move_bytes = len(data)
                if status != 200:
                    errors.append(f"move: {status}\n{first_lines(data)}")
                    break
        if Deal.objects.filter(pk=deal_id).values_list("stage_id", flat=True).get() != first.pk:
            status, data, _elapsed = move()  # put it back, so the columns keep their sizes
            if status != 200:
                errors.append(f"move back: {status}\n{first_lines(data)}")

        for error in errors:
            self.stderr.write(f"  ERROR at {size}: {error}")
        result = {
            "open_deals": size,
            "board_ms": timing_summary(board_times) if board_times else None,
            "board_html_kb": round(html_bytes / 1024, 1),
            "queries": queries,
            "query_sql": query_sql,
            "move_ms": timing_summary(move_times) if move_times else None,
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
            fixture = bench_pages.build_page_fixture(
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
                        errors.append(f"{name}: {status}\n{first_lines(body)}")
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
            summary = timing_summary(times) if times else None
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
            "Targets (docs/performance.md): board p50 < 50 ms up to 10k open deals, "
            "< 80 ms at 100k; "
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
            f"Targets (docs/performance.md): scan < {SCAN_TARGET_S:g} s "
            f"at {SCAN_TARGET_AT} open deals; "
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
