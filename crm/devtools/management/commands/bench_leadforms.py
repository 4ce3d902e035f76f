"""`manage.py bench_leadforms`: Time a website lead-form submission through gunicorn.

The options are read here; the work is in crm/devtools/bench_leadforms.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench_leadforms import LeadFormBench


class Command(BaseCommand):
    help = "Benchmark a lead-form submission over HTTP against PostgreSQL (docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=100, help="Timed submissions.")
        parser.add_argument("--companies", type=int, default=5000, help="Companies in the team.")
        parser.add_argument(
            "--open-deals", type=int, default=5000, help="Open deals in the first stage."
        )
        parser.add_argument("--json", default="bench-results/bench_leadforms.json")
        parser.add_argument("--port", type=int, default=8767)

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_leadforms needs PostgreSQL (make bench).")
        requests, companies = int(options["requests"]), int(options["companies"])
        open_deals = int(options["open_deals"])
        if requests < 1 or companies < 10 or open_deals < 0:
            raise CommandError("--requests >= 1, --companies >= 10, --open-deals >= 0.")
        LeadFormBench(stdout=self.stdout, stderr=self.stderr).run(
            requests=requests,
            companies=companies,
            open_deals=open_deals,
            json_path=Path(options["json"]),
            port=int(options["port"]),
        )
