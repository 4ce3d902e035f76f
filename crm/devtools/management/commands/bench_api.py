"""`manage.py bench_api`: Time the REST API's deal list at 10k visible deals.

The options are read here; the work is in crm/devtools/bench_api.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench_api import ApiBench


class Command(BaseCommand):
    help = "Benchmark the REST API's deal list over HTTP against PostgreSQL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--deals", type=int, default=10_000)
        parser.add_argument("--requests", type=int, default=50, help="Timed requests each.")
        parser.add_argument("--json", default="bench-results/bench_api.json")
        parser.add_argument("--port", type=int, default=8767)

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_api needs PostgreSQL (make bench).")
        deals, requests = int(options["deals"]), int(options["requests"])
        if deals < 200 or requests < 1:
            raise CommandError("--deals >= 200, --requests >= 1.")
        ApiBench(stdout=self.stdout, stderr=self.stderr).run(
            deals=deals,
            requests=requests,
            json_path=Path(options["json"]),
            port=int(options["port"]),
        )
