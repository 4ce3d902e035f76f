"""`manage.py bench_reports`: Time the forecast and review pages on seed_demo's board, cold.

The options are read here; the work is in crm/devtools/bench_reports.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench_reports import ReportsBench


class Command(BaseCommand):
    help = "Benchmark the forecast and review pages over HTTP against PostgreSQL, cold cache."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="10000,100000",
            help="Open deals added to seed_demo's board (comma-separated).",
        )
        parser.add_argument("--requests", type=int, default=50, help="Timed requests each.")
        parser.add_argument("--json", default="bench-results/bench_reports.json")
        parser.add_argument("--port", type=int, default=8768)

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_reports needs PostgreSQL (make bench).")
        try:
            sizes = sorted({int(s) for s in str(options["sizes"]).split(",") if s.strip()})
        except ValueError as error:
            raise CommandError("--sizes must be comma-separated integers.") from error
        requests = int(options["requests"])
        if not sizes or sizes[0] < 12 or requests < 1:
            raise CommandError("--sizes of 12 or more, --requests >= 1.")
        ReportsBench(stdout=self.stdout, stderr=self.stderr).run(
            sizes=sizes,
            requests=requests,
            json_path=Path(options["json"]),
            port=int(options["port"]),
        )
