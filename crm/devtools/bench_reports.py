"""Benchmark the manager's report pages on the board a real team has, with a cold cache.

    python manage.py bench_reports [--sizes 10000,100000] [--requests 50] [--port 8768]
                                   [--json bench-results/bench_reports.json]

For each size, `seed_demo`'s North "New business" pipeline is grown to that many added open
deals (`bench_fixtures.build_demo_board`, the board benchmark's fixture: owners, companies
with tiers, next steps, overdue and stale flags, exit criteria; last week's demo snapshot is
what "changes since last week" compares with, so every added deal counts as new). Then,
through gunicorn (2 sync workers) like the board:

- the forecast page and its "changes since last week" panel as maria (manager of North),
- the weekly review page as maria and as sven (salesperson of North),

each request after the shared cache was cleared (a cold cache: sessions, version tokens,
cached figures all read again). Per page: p50/p95, the SQL queries (counted in-process), the
page's SQL floor (the very statements the page ran, with their parameters, executed bare
from this process one after the other, round trips included: what no code issuing those
statements can beat) and the ratio p50 / floor, the share of time in SQL, templates and
Python, and the HTML size. Targets: forecast p50 < 150 ms at 100k, review p50 < 100 ms at 10k.
The ratios are what compare across runs on a loaded machine (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from accounts.models import User
from crm.devtools import bench_board, bench_server
from crm.devtools.bench_fixtures import build_demo_board
from crm.devtools.bench_http import HttpSession, timed_gets, timing_summary

FORECAST_TARGET_MS, FORECAST_TARGET_AT = 150.0, 100_000
REVIEW_TARGET_MS, REVIEW_TARGET_AT = 100.0, 10_000
MANAGER, SALESPERSON = "maria", "sven"


@dataclass(frozen=True)
class Scenario:
    page: str
    username: str
    url_name: str

    def target(self, size: int) -> tuple[float, int] | None:
        """(p50 target in ms, the size it applies at), or None for a page timed for
        information ("none slower than today")."""
        if self.url_name == "forecast" and size >= FORECAST_TARGET_AT:
            return FORECAST_TARGET_MS, FORECAST_TARGET_AT
        if self.url_name == "review" and size <= REVIEW_TARGET_AT:
            return REVIEW_TARGET_MS, REVIEW_TARGET_AT
        return None


SCENARIOS = (
    Scenario("forecast (manager)", MANAGER, "forecast"),
    Scenario("forecast changes panel (manager)", MANAGER, "forecast-changes"),
    Scenario("review (manager)", MANAGER, "review"),
    Scenario("review (salesperson)", SALESPERSON, "review"),
)


def page_statements(user: User, path: str) -> list[tuple[str, tuple | list | dict | None]]:
    """The statements an in-process GET of `path` runs (after a warm one), with their
    parameters, so they can be run again bare."""
    statements: list = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with bench_board._bench_client(user) as client:
        client.get(path)
        cache.clear()
        with connection.execute_wrapper(record):
            response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"in-process {path} answered {response.status_code}")
    return statements


def sql_floor_ms(statements, *, repeat: int = 30) -> float:
    """p50 of running `statements` bare, one after the other, from this process."""

    def run():
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()

    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class ReportsBench:
    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(self, *, sizes: list[int], requests: int, json_path: Path, port: int) -> dict:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        log_path = json_path.with_name("gunicorn-reports.log")
        results: list[dict] = []
        sizes = sorted(sizes, reverse=True)  # the largest first: `bench` leaves it built
        fixture = build_demo_board(sizes[0], log=self.stdout.write)
        users = {u.username: u for u in User.objects.filter(username__in=[MANAGER, SALESPERSON])}
        sessions = {name: bench_server.login_session(user) for name, user in users.items()}
        server = None
        try:
            server = bench_server.start_gunicorn(port, log_path, log=self.stdout.write)
            probe = HttpSession(port, sessions[MANAGER])
            bench_server.wait_until_up(server, probe, reverse("forecast"), log_path)
            probe.close()
            for size in sizes:
                fixture = build_demo_board(size, log=self.stdout.write)
                for scenario in SCENARIOS:
                    results.append(
                        self._measure(
                            scenario,
                            size=size,
                            user=users[scenario.username],
                            session_key=sessions[scenario.username],
                            port=port,
                            requests=requests,
                        )
                    )
        finally:
            if server is not None:
                bench_server.stop_gunicorn(server)
            for key in sessions.values():
                bench_server.logout_session(key)
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "pipeline": fixture.pipeline.name,
            "requests": requests,
            "pages": results,
        }
        json_path.write_text(json.dumps(report, indent=2))
        self._print(report)
        bench_server.report_gunicorn_log(log_path, err=self.stderr.write)
        return report

    def _measure(self, scenario: Scenario, *, size, user, session_key, port, requests) -> dict:
        path = reverse(scenario.url_name)
        self.stdout.write(f"Measuring {scenario.page} at +{size} deals ...")
        http = HttpSession(port, session_key)
        try:
            # Cold: every request reads what the cache would have kept.
            run = timed_gets(http, path, requests=requests, before=cache.clear)
        finally:
            http.close()
        times, errors = run.times, [run.error] if run.error else []
        html_bytes = 0 if run.error else len(run.body)
        statements = page_statements(user, path)
        floor = sql_floor_ms(statements)
        shares = bench_board.time_shares(user, path)
        summary = timing_summary(times) if times else None
        target = scenario.target(size)
        result = {
            "page": scenario.page,
            "path": path,
            "user": scenario.username,
            "added_deals": size,
            "ms": summary,
            "queries": len(statements),
            "sql_floor_ms": round(floor, 2),
            "ratio_to_floor": round(summary["p50"] / floor, 1) if summary and floor else None,
            "shares": shares,
            "html_kb": round(html_bytes / 1024, 1),
            "errors": errors,
        }
        if target is not None:
            result["target"] = f"p50 < {target[0]:g} ms at {target[1]} open deals"
            result["pass"] = bool(summary) and not errors and summary["p50"] < target[0]
        for error in errors:
            self.stderr.write(f"  ERROR {scenario.page}: {error}")
        return result

    def _print(self, report: dict) -> None:
        self.stdout.write("")
        self.stdout.write(
            f"Report pages, cold cache, load average {report['load_average']} "
            f"({report['requests']} requests each)"
        )
        header = (
            f"{'page':34} {'added':>7} {'p50':>7} {'p95':>7} {'q':>3} {'floor':>6} "
            f"{'ratio':>5} {'sql/tpl/py %':>13} {'KB':>6}  target"
        )
        self.stdout.write(header)
        for r in report["pages"]:
            ms = r["ms"] or {"p50": float("nan"), "p95": float("nan")}
            s = r["shares"]
            shares = f"{s['sql'] * 100:.0f}/{s['templates'] * 100:.0f}/{s['python'] * 100:.0f}"
            verdict = ""
            if "target" in r:
                verdict = f"{r['target']}: {'pass' if r['pass'] else 'FAIL'}"
            self.stdout.write(
                f"{r['page']:34} {r['added_deals']:>7} {ms['p50']:>7.1f} {ms['p95']:>7.1f} "
                f"{r['queries']:>3} {r['sql_floor_ms']:>6.1f} {r['ratio_to_floor'] or 0:>5.1f} "
                f"{shares:>13} {r['html_kb']:>6.1f}  {verdict}"
            )
