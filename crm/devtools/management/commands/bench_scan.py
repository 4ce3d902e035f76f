"""`manage.py bench_scan`: Time the flag scan at up to 1M open deals (first run and steady state).

The options are read here; the work is in crm/devtools/bench_scan.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench_scan import ScanBench


class Command(BaseCommand):
    help = "Benchmark the flag scan against PostgreSQL (see docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="100000,1000000",
            help="Open deals in the scan pipeline, comma-separated (the smallest is the memory "
            "baseline; the target is judged at 1000000).",
        )
        parser.add_argument("--json", default="bench-results/bench_scan.json", help="JSON output.")

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                f"bench_scan needs PostgreSQL, but the database is {connection.vendor}. "
                "Run `make bench` (DATABASE_URL=postgres://...)."
            )
        try:
            sizes = sorted({int(s) for s in str(options["sizes"]).split(",") if s.strip()})
        except ValueError as error:
            raise CommandError("--sizes must be comma-separated integers.") from error
        if not sizes or sizes[0] < 12:
            raise CommandError("--sizes needs at least one size of 12 or more.")
        ScanBench(stdout=self.stdout, stderr=self.stderr).run(
            sizes=sizes, json_path=Path(options["json"])
        )
