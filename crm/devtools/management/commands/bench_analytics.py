"""`manage.py bench_analytics`: Time the analytics pages over 100k deals and 1M stage changes.

The options are read here; the work is in crm/devtools/bench_analytics.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench_analytics import AnalyticsBench


class Command(BaseCommand):
    help = "Benchmark the analytics pages over HTTP against PostgreSQL (docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--deals", type=int, default=100_000)
        parser.add_argument("--changes-per-deal", type=int, default=10)
        parser.add_argument("--requests", type=int, default=50, help="Timed requests per page.")
        parser.add_argument("--json", default="bench-results/bench_analytics.json")
        parser.add_argument("--port", type=int, default=8766)

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_analytics needs PostgreSQL (make bench).")
        deals, changes = int(options["deals"]), int(options["changes_per_deal"])
        requests = int(options["requests"])
        if deals < 10 or not 1 <= changes <= 50 or requests < 1:
            raise CommandError("--deals >= 10, 1 <= --changes-per-deal <= 50, --requests >= 1.")
        AnalyticsBench(stdout=self.stdout, stderr=self.stderr).run(
            deals=deals,
            changes=changes,
            requests=requests,
            json_path=Path(options["json"]),
            port=int(options["port"]),
        )
