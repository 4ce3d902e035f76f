"""A mixed-action load on one board through gunicorn, against PostgreSQL.

    python manage.py loadtest [--sessions 10] [--actions 20] [--workers 4] [--port 8766]
                              [--seconds 120] [--background-rounds 2] [--seed 12]

Needs the demo organisation (`manage.py seed_demo`): the sessions sign in as the two
salespeople of team North, `sven` and `lena` (password `demo`), alternately, and act on the
"New business" board at the same time: drags into neighbouring columns and within a column
(with the card's version, through the exit criteria dialog where the board would open it),
edits, quick adds, won / lost / reopen, pause / resume, completing a next step and planning
the following one, and the weekly review's "+1 week". Meanwhile the flag scan, the forecast
snapshot, the analytics refresh and the tier recompute run as separate processes, twice.

Prints each kind's count, p50 / p95, refusals (409 "try again" and other 4xx: expected
answers) and errors (5xx, dropped connections), and the actions per second. Exits non-zero
when any error happened. `make loadtest` runs it with DEBUG off and plain HTTP.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import User
from crm.devtools import bench_server
from crm.devtools import loadtest_session as load
from pipeline.models import Pipeline

USERNAMES = ("sven", "lena")
PIPELINE_NAME = "New business"
TEAM_NAME = "North"
JOB_TIMEOUT_S = 180

# The background work that runs while the sessions act, each as its own process the way a
# worker runs it. The snapshot forgets this week's run first, so it really writes.
BACKGROUND_JOBS = {
    "flag scan": ["flags_scan_once"],
    "snapshot": [
        "shell",
        "-c",
        "from django.utils import timezone\n"
        "from pipeline.forecasting import monday\n"
        "from pipeline.models import ForecastSnapshotRun\n"
        "from pipeline import services\n"
        "ForecastSnapshotRun.objects.filter(week=monday(timezone.localdate())).delete()\n"
        "services.forecast_snapshot_take()\n",
    ],
    "analytics": [
        "shell",
        "-c",
        "from pipeline.services.analytics import analytics_refresh\nanalytics_refresh()\n",
    ],
    "tiers": ["tiers_recompute"],
}


class LoadTest:
    """The load, the background jobs and the report; `stdout` and `stderr` are where the
    progress and the report go (a command's output wrappers)."""

    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(
        self,
        *,
        sessions: int,
        actions: int,
        workers: int,
        port: int,
        seconds: float,
        background_rounds: int,
        password: str,
        seed: int,
    ) -> int:
        """Runs the load; answers the number of errors (5xx, dropped connections and failed
        background jobs)."""
        specs, board_path = self._sessions(sessions, password)
        log_path = Path(settings.BASE_DIR) / "var" / "loadtest-gunicorn.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        server = bench_server.start_gunicorn(port, log_path, workers=workers, log=self.stdout.write)
        stop = threading.Event()
        jobs: list[dict] = []
        try:
            probe = load.Browser(port, timeout=10)
            bench_server.wait_until_up(server, probe, reverse("login"), log_path)
            probe.close()
            background = threading.Thread(
                target=self._background,
                args=(background_rounds, stop, jobs),
                name="background-jobs",
            )
            self.stdout.write(
                f"Load: {len(specs)} sessions x {actions} actions on {board_path} "
                f"({', '.join(sorted({s.username for s in specs}))}), "
                f"{workers} gunicorn workers, at most {seconds:g} s"
            )
            background.start()
            hits, elapsed = load.run_sessions(
                specs,
                port=port,
                board_path=board_path,
                actions=actions,
                seconds=seconds,
                seed=seed,
            )
            stop.set()
            background.join(JOB_TIMEOUT_S * len(BACKGROUND_JOBS) + 10)
        finally:
            stop.set()
            bench_server.stop_gunicorn(server)
        errors = self._report(hits, elapsed, jobs)
        bench_server.report_gunicorn_log(log_path, err=self.stderr.write)
        return errors

    def _sessions(self, count: int, password: str) -> tuple[list[load.SessionSpec], str]:
        users = {u.username: u for u in User.objects.filter(username__in=USERNAMES)}
        pipeline = Pipeline.objects.filter(team__name=TEAM_NAME, name=PIPELINE_NAME).first()
        if len(users) < len(USERNAMES) or pipeline is None:
            raise CommandError(
                "The demo organisation is missing: run `manage.py seed_demo` first "
                "(`make loadtest` does)."
            )
        specs = [
            load.SessionSpec(
                index=i,
                username=USERNAMES[i % len(USERNAMES)],
                password=password,
                owner_name=str(users[USERNAMES[i % len(USERNAMES)]]),
            )
            for i in range(count)
        ]
        return specs, reverse("board", args=[pipeline.pk])

    def _background(self, rounds: int, stop: threading.Event, jobs: list[dict]) -> None:
        """`rounds` rounds of every background job at once, while the load runs."""
        for number in range(1, rounds + 1):
            if stop.is_set():
                return
            running = {name: self._start_job(command) for name, command in BACKGROUND_JOBS.items()}
            for name, (process, started) in running.items():
                try:
                    out, err = process.communicate(timeout=JOB_TIMEOUT_S)
                    code = process.returncode
                except subprocess.TimeoutExpired:
                    process.kill()
                    out, err = process.communicate()
                    code = "timeout"
                jobs.append(
                    {
                        "round": number,
                        "job": name,
                        "exit": code,
                        "seconds": round(time.perf_counter() - started, 2),
                        "during_load": not stop.is_set(),
                        "error": err.decode(errors="replace")[-1500:] if code != 0 else "",
                    }
                )

    def _start_job(self, command: list[str]):
        env = bench_server.child_env()
        full = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *command]
        process = subprocess.Popen(
            full, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        return process, time.perf_counter()

    def _report(self, hits: list[load.Hit], elapsed: float, jobs: list[dict]) -> int:
        rows = load.summarise(hits)
        actions = load.writes(hits)
        errors = [h for h in hits if h.outcome == load.ERROR]
        refused = [h for h in actions if h.outcome == load.REFUSED]
        lines = ["", *load.format_table(rows), ""]
        lines.append(
            f"{len(actions)} actions in {elapsed:.1f} s: {len(actions) / elapsed:.1f} actions/s "
            f"({len(hits) / elapsed:.1f} requests/s with the page and dialog reads); "
            f"{len(refused)} refused, {len(errors)} errors."
        )
        if refused:
            by_status = Counter(h.status for h in refused)
            lines.append(
                "Refused by status: "
                + ", ".join(f"{status} x{n}" for status, n in sorted(by_status.items()))
                + " (409: someone else changed the deal first; the session reloads the board)."
            )
        if jobs:
            lines += ["", "Background jobs (each a separate process, while the load ran):"]
            for job in jobs:
                state = "ok" if job["exit"] == 0 else f"FAILED ({job['exit']})"
                when = "" if job["during_load"] else " (finished after the load)"
                name, seconds = job["job"], job["seconds"]
                lines.append(f"  round {job['round']} {name:<10} {seconds:>6.2f} s {state}{when}")
        failed_jobs = [job for job in jobs if job["exit"] != 0]
        for job in failed_jobs:
            lines.append(f"  {job['job']}: {job['error'].strip()[-800:]}")
        if errors:
            lines += ["", "Errors (first 20):"]
            lines += [f"  session {h.session} {h.kind}: {h.detail}" for h in errors[:20]]
        self.stdout.write("\n".join(lines))
        return len(errors) + len(failed_jobs)
