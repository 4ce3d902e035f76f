"""The import benchmark (`manage.py bench_imports`, run by `make bench`): a HubSpot-style deals
export of 50,000 rows with their companies and contacts, imported into an empty pipeline of
a team of its own.

It measures, against the targets in docs/performance.md:

- the upload's check and column profile, and the preview (a dry run of the whole file),
  in this process;
- the import itself as `manage.py import_records` in a process of its own, for its wall
  time and its peak resident memory (`wait4`), at two file sizes (a fifth of the rows,
  then all of them), so "memory flat in the file's size" is a ratio of the two;
- undoing the batch.

`write_deals_file` and `bench_team` are reused by tests/devtools.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from accounts.models import Membership, Role, Team, User
from crm.models import ImportBatch
from crm.services import imports as import_services
from pipeline.models import Deal, Pipeline, Stage

STAGES = ["Appointment scheduled", "Qualified to buy", "Presentation scheduled", "Contract sent"]
HEADER = [
    "Record ID",
    "Deal Name",
    "Deal Stage",
    "Close Date",
    "Deal owner",
    "Amount",
    "Create Date",
    "Pipeline",
    "Associated Company",
    "Company Domain Name",
    "Associated Contact",
    "Contact email",
]
TARGET_SECONDS = 60.0
PREVIEW_TARGET_SECONDS = 3.0
FIRST_NAMES = ["Søren", "Åsa", "Jürgen", "Ingrid", "Mette", "Lars", "Anna", "Björn", "Kari", "Jens"]
LAST_NAMES = ["Ærbø", "Öberg", "Weiß", "Haugen", "Kjær", "Nilsen", "Straße", "Lund", "Berg", "Dahl"]
WORDS = ["Nordic", "Fjord", "Baltic", "Øresund", "Alpine", "Hanse", "Viking", "Polar", "Delta"]
FORMS = ["A/S", "ApS", "AS", "AB", "GmbH", "Ltd", "Oy"]


@dataclass
class BenchTeam:
    team: Team
    pipeline: Pipeline
    manager: User
    reps: list[User]


def bench_team(label: str) -> BenchTeam:
    """A team of its own with a manager, five reps and a pipeline with HubSpot's stages."""
    team = Team.objects.create(name=f"Import bench {label}")
    manager = User.objects.create_user(
        username=f"import-bench-{label}", first_name="Ines", last_name="Importer"
    )
    Membership.objects.create(user=manager, team=team, role=Role.MANAGER)
    reps = []
    for index in range(5):
        rep = User.objects.create_user(
            username=f"import-bench-{label}-rep{index}",
            first_name=FIRST_NAMES[index],
            last_name=LAST_NAMES[index],
            email=f"rep{index}.{label}@bench.example",
        )
        Membership.objects.create(user=rep, team=team, role=Role.SALESPERSON)
        reps.append(rep)
    pipeline = Pipeline.objects.create(team=team, name="Imported")
    Stage.objects.bulk_create(
        Stage(pipeline=pipeline, name=name, position=i, probability=10 + 20 * i)
        for i, name in enumerate(STAGES)
    )
    return BenchTeam(team=team, pipeline=pipeline, manager=manager, reps=reps)


def write_deals_file(
    path: Path, rows: int, *, reps: list[User], companies: int, contacts: int, seed: int = 7
) -> None:
    """A HubSpot-style deals export: `rows` deals over `companies` companies (each with a web
    domain) and `contacts` contacts (each at one company, with an e-mail)."""
    rng = random.Random(seed)
    start = date(2027, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for index in range(rows):
            company = index % companies
            contact = index % contacts
            company_of_contact = contact % companies
            rep = reps[index % len(reps)]
            writer.writerow(
                [
                    str(9_000_000_000 + index),
                    f"{WORDS[index % len(WORDS)]} deal {index}",
                    STAGES[index % len(STAGES)],
                    (start + timedelta(days=index % 365)).isoformat(),
                    rep.get_full_name() if index % 2 else rep.email,
                    f"{rng.randint(1000, 500000)}.{rng.randint(0, 99):02d}",
                    f"2026-{1 + index % 12:02d}-{1 + index % 28:02d} 09:{index % 60:02d}",
                    "Sales Pipeline",
                    f"{WORDS[company % len(WORDS)]} {company} {FORMS[company % len(FORMS)]}",
                    f"company{company}.example",
                    # Contacts are named at the company the deal is with (both cycle).
                    f"{FIRST_NAMES[contact % 10]} {LAST_NAMES[(contact // 10) % 10]} {contact}"
                    if company_of_contact == company
                    else "",
                    f"contact{contact}@company{company}.example"
                    if company_of_contact == company
                    else "",
                ]
            )


def _peak_process(args: list[str], env: dict) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds, peak resident memory in bytes, stdout) of a child
    process. CPU time is quoted beside wall time because the machines are shared: on a
    busy one the wall time mostly measures the neighbours."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"import failed: {stderr.decode(errors='replace')[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss * 1024, stdout.decode()


class ImportBench:
    def __init__(self, *, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def run(self, *, rows: int, json_path: Path) -> dict:
        label = time.strftime("%Y%m%d%H%M%S")
        figures: dict = {"rows": rows, "database": connection.vendor}
        with tempfile.TemporaryDirectory() as folder:
            small_rows = max(rows // 5, 10)
            for name, count in (("small", small_rows), ("full", rows)):
                target = bench_team(f"{label}-{name}")
                path = Path(folder) / f"deals-{name}.csv"
                write_deals_file(
                    path, count, reps=target.reps, companies=count * 2 // 5, contacts=count * 4 // 5
                )
                figures[name] = self._measure(target, path, count, with_preview=name == "full")
        small, full = figures["small"], figures["full"]
        figures["memory_ratio"] = round(full["peak_rss_mb"] / small["peak_rss_mb"], 2)
        self._report(figures)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2))
        return figures

    def _measure(self, target: BenchTeam, path: Path, rows: int, *, with_preview: bool) -> dict:
        result: dict = {"rows": rows, "file_mb": round(path.stat().st_size / 2**20, 1)}
        self.say(f"import of {rows:,} deals ({result['file_mb']} MB)...")
        if with_preview:
            upload = SimpleUploadedFile(path.name, path.read_bytes())
            started, cpu_started = time.perf_counter(), time.process_time()
            batch = import_services.import_batch_create(
                acting_user=target.manager,
                kind="deals",
                upload=upload,
                file_name=path.name,
                pipeline=target.pipeline,
            )
            result["upload_seconds"] = round(time.perf_counter() - started, 2)
            result["upload_cpu_seconds"] = round(time.process_time() - cpu_started, 2)
            started, cpu_started = time.perf_counter(), time.process_time()
            preview = import_services.import_preview(acting_user=target.manager, batch=batch)
            result["preview_seconds"] = round(time.perf_counter() - started, 2)
            result["preview_cpu_seconds"] = round(time.process_time() - cpu_started, 2)
            result["preview_created"] = preview.created
            result["preview_problems"] = preview.problem_count
            ImportBatch.objects.filter(pk=batch.pk).delete()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings"}
        args = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "import_records",
            str(path),
            "--kind=deals",
            f"--user={target.manager.username}",
            f"--pipeline={target.pipeline.pk}",
            "--json",
        ]
        seconds, cpu, peak, stdout = _peak_process(args, env)
        outcome = json.loads(stdout.strip().splitlines()[-1])
        result.update(
            import_seconds=round(seconds, 2),
            import_cpu_seconds=round(cpu, 2),
            peak_rss_mb=round(peak / 2**20, 1),
            created=outcome["created"],
            companies=outcome["related_created"].get("companies", 0),
            contacts=outcome["related_created"].get("contacts", 0),
            errors=len(outcome["errors"]),
        )
        deals = Deal.objects.filter(pipeline=target.pipeline).count()
        if deals != rows:
            raise RuntimeError(f"expected {rows} deals, found {deals}")
        batch = ImportBatch.objects.get(pk=outcome["batch"])
        started = time.perf_counter()
        import_services.import_batch_undo(acting_user=target.manager, batch=batch)
        result["undo_seconds"] = round(time.perf_counter() - started, 2)
        self.say(
            f"  {result['import_seconds']} s ({result['import_cpu_seconds']} s CPU), "
            f"peak {result['peak_rss_mb']} MB, undo {result['undo_seconds']} s"
        )
        return result

    def _report(self, figures: dict) -> None:
        full, small = figures["full"], figures["small"]
        ok = "ok" if full["import_seconds"] < TARGET_SECONDS else "OVER TARGET"
        self.say("")
        self.say(f"Import of {full['rows']:,} deals with their companies and contacts")
        self.say(
            f"  created {full['created']:,} deals, {full['companies']:,} companies, "
            f"{full['contacts']:,} contacts"
        )
        self.say(
            f"  import (a process of its own): {full['import_seconds']} s (< 60 s: {ok}), "
            f"of which {full['import_cpu_seconds']} s CPU in Python"
        )
        self.say(
            f"  peak memory: {small['peak_rss_mb']} MB at {small['rows']:,} rows, "
            f"{full['peak_rss_mb']} MB at {full['rows']:,} rows "
            f"(ratio {figures['memory_ratio']} for {full['rows'] / small['rows']:.0f}x the rows)"
        )
        preview_ok = "ok" if full["preview_seconds"] < PREVIEW_TARGET_SECONDS else "OVER TARGET"
        self.say(f"  upload check and profile: {full['upload_seconds']} s")
        self.say(
            f"  preview (dry run of every row): {full['preview_seconds']} s (< 3 s: {preview_ok})"
        )
        self.say(f"  undo: {full['undo_seconds']} s")
