"""`manage.py bench_imports`: time an import of 50,000 deals with their companies and contacts,
its preview and its undo, with the import's peak memory at two file sizes.

The options are read here; the work is in crm/devtools/bench_imports.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench_imports import ImportBench


class Command(BaseCommand):
    help = "Benchmark the import against PostgreSQL (docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=50_000)
        parser.add_argument("--json", default="bench-results/bench_imports.json")

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_imports needs PostgreSQL (make bench).")
        rows = int(options["rows"])
        if rows < 50:
            raise CommandError("--rows >= 50.")
        ImportBench(stdout=self.stdout, stderr=self.stderr).run(
            rows=rows, json_path=Path(options["json"])
        )
