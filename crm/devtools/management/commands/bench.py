"""`manage.py bench`: Time the board, the move, the manager pages, the flag scan and the snapshot.

The options are read here; the work is in crm/devtools/bench.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.bench import Bench


def _sizes(value: str, option: str) -> list[int]:
    try:
        return sorted({int(s) for s in str(value).split(",") if s.strip()})
    except ValueError as error:
        raise CommandError(f"--{option} must be comma-separated integers.") from error


class Command(BaseCommand):
    help = "Benchmark the board and moves over HTTP against PostgreSQL (see docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="10000,100000",
            help="Open deals added to seed_demo's board (comma-separated; one per run is fine).",
        )
        parser.add_argument("--requests", type=int, default=60, help="Timed requests per size.")
        parser.add_argument("--json", default="bench-results/bench.json", help="JSON output.")
        parser.add_argument("--port", type=int, default=8765, help="Port for gunicorn.")
        parser.add_argument(
            "--scan-sizes",
            default="100000,1000000",
            help="Open deal counts of the scan pipeline for the flag-scan measurement.",
        )
        parser.add_argument(
            "--skip-scan", action="store_true", help="Leave out the flag-scan measurement."
        )
        parser.add_argument(
            "--forecast-size", type=int, default=100_000, help="Open deals behind the forecast."
        )
        parser.add_argument(
            "--review-size", type=int, default=10_000, help="Open deals in the reviewed team."
        )
        parser.add_argument(
            "--skip-pages", action="store_true", help="Leave out the forecast and review pages."
        )
        parser.add_argument(
            "--skip-snapshot", action="store_true", help="Leave out the weekly snapshot."
        )

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                f"bench needs PostgreSQL, but the database is {connection.vendor}. "
                "Run `make bench` (DATABASE_URL=postgres://...)."
            )
        sizes = _sizes(options["sizes"], "sizes")
        if not sizes or sizes[0] < 12:
            raise CommandError("--sizes needs at least one size of 12 or more.")
        requests = int(options["requests"])
        if requests < 1:
            raise CommandError("--requests must be 1 or more.")
        scan_sizes = _sizes(options["scan_sizes"], "scan-sizes")
        if options["skip_scan"]:
            scan_sizes = []
        elif not scan_sizes or scan_sizes[0] < 12:
            raise CommandError("--scan-sizes needs at least one size of 12 or more.")
        Bench(stdout=self.stdout, stderr=self.stderr).run(
            sizes=sizes,
            requests=requests,
            json_path=Path(options["json"]),
            port=int(options["port"]),
            scan_sizes=scan_sizes,
            forecast_size=options["forecast_size"],
            review_size=options["review_size"],
            skip_pages=options["skip_pages"],
            skip_snapshot=options["skip_snapshot"],
        )
