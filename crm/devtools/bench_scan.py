"""`manage.py bench_scan`: the periodic flag scan over up to a million open deals, timed in a
worker-like subprocess beside its targets (docs/performance.md): the first scan ever (every
flag raised from nothing, as after a deploy or a bulk load) and the steady state a periodic
run sees, the child's peak memory, and how many notification rows each scan wrote (one
summary per owner, not one per flag).

The deals come from `build_scan_fixture` (set-based INSERT … SELECT generate_series on
PostgreSQL, on top of seed_demo's shape: a bench team with owners, stages and next steps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import CharField, DateTimeField, Value
from django.utils import timezone

from crm.devtools import bench_server
from crm.devtools.bench_fixtures import build_scan_fixture, reset_flags, scan_base, scan_mix
from pipeline.models import Deal, DealStatus, Flag, Notification
from pipeline.services.flags import flag_conditions

# docs/performance.md targets.
SCAN_TARGET_S = 10.0


SCAN_TARGET_AT = 1_000_000


SCAN_RSS_GROWTH_MAX = 1.5


class ScanBench:
    """The flag scan at each size, judged against its targets; `stdout` and `stderr` are where
    the progress and the report go (a command's output wrappers)."""

    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def run(self, *, sizes: list[int], json_path: Path) -> list[dict]:
        results = self.measure(sizes)
        self.stdout.write("\n".join(scan_lines(results)))
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"flag_scan": results}, indent=2) + "\n")
        self.stdout.write(f"\nJSON written to {json_path}")
        return results

    def measure(self, sizes: list[int]) -> list[dict]:
        """For each size: the scan pipeline at that many open deals, every bench flag
        forgotten, then two scans in a worker-like subprocess: the first raises everything,
        the second is the steady state a periodic run sees."""
        base = scan_base()
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
            floor_s = _flag_write_floor(pipeline)
            self.stdout.write(
                f"  floor: writing its flags alone (three plain INSERT … SELECT, rolled back) "
                f"{floor_s:.2f} s"
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
                    f"resolved {r['resolved']}, {r['notifications']} notification rows"
                )
            results.append(
                {
                    "scan_deals": size,
                    "open_deals_in_database": open_total,
                    "mix": mix,
                    "open_flags": Flag.objects.filter(resolved_at__isnull=True).count(),
                    "flag_write_floor_s": round(floor_s, 3),
                    "first_vs_floor": round(runs["first"]["seconds"] / floor_s, 2)
                    if "seconds" in runs.get("first", {}) and floor_s
                    else None,
                    "first": runs["first"],
                    "steady": runs.get("steady", {"error": "not run"}),
                }
            )
            if any("error" in run for run in runs.values()):
                break
        _verdicts(results)
        return results

    def _scan_once(self) -> dict:
        """`manage.py flags_scan_once` as a child process: its wall time, the scan's own time,
        the child's peak resident memory (from wait4, so only this child counts) and the
        notification rows it wrote."""
        env = bench_server.child_env()
        command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "flags_scan_once"]
        notifications_before = Notification.objects.count()
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
            "notifications": Notification.objects.count() - notifications_before,
        }


def _flag_write_floor(pipeline) -> float:
    """The first scan's floor, measured in the same run: the flags it must raise written by
    three bare INSERT … SELECT over the scan pipeline's deals (one per kind, the same
    definitions, no conflict handling, no notifications, no counts), then rolled back and
    vacuumed away. On a shared machine the
    absolute times travel badly; the ratio of the scan to this does not."""
    now = timezone.now()
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for kind, condition in flag_conditions(now=now).items():
                rows = (
                    Deal.objects.filter(condition, pipeline=pipeline)
                    .order_by()
                    .annotate(
                        flag_kind=Value(kind, output_field=CharField()),
                        flag_at=Value(now, output_field=DateTimeField()),
                    )
                    .values_list("pk", "flag_kind", "flag_at")
                )
                sql, params = rows.query.sql_with_params()
                cursor.execute(
                    f"INSERT INTO {Flag._meta.db_table} (deal_id, kind, raised_at) {sql}", params
                )
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Flag._meta.db_table}")
    return elapsed


def _verdicts(results: list[dict]) -> None:
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


def scan_lines(scans: list[dict]) -> list[str]:
    if not scans:
        return []
    columns = ["scan deals", "open in db", "run   ", "scan   ", "process", "peak RSS"]
    columns += ["raised", "resolved", "notified", "vs targets"]
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
                str(x.get("notifications", "")),
            ]
            row = [cell.rjust(width) for cell, width in zip(cells, widths, strict=False)]
            lines.append(" | ".join([*row, "PASS" if not misses else "MISS: " + ", ".join(misses)]))
    lines += [
        "",
        f"Targets (docs/performance.md): scan < {SCAN_TARGET_S:g} s "
        f"at {SCAN_TARGET_AT} open deals; "
        f"memory flat (peak RSS within {SCAN_RSS_GROWTH_MAX:g}x of the smallest size).",
    ]
    for r in scans:
        if r.get("first_vs_floor"):
            lines.append(
                f"  {r['scan_deals']:>7}: first scan / its floor (the flags' bare INSERTs, "
                f"{r['flag_write_floor_s']:.2f} s in the same run) {r['first_vs_floor']}x"
            )
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
