"""`manage.py bench_webhooks`: what recording a webhook event adds to a move.

The options are read here; the work is in crm/devtools/bench_webhooks.py."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.devtools.bench_webhooks import run


class Command(BaseCommand):
    help = "Benchmark a move with and without a webhook endpoint listening (docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rounds", type=int, default=21, help="Rounds (each times every side)."
        )
        parser.add_argument("--moves", type=int, default=10, help="Timed moves per round and side.")
        parser.add_argument("--json", default="bench-results/bench_webhooks.json")

    def handle(self, *args, **options) -> None:
        rounds, moves = int(options["rounds"]), int(options["moves"])
        if rounds < 1 or moves < 1:
            raise CommandError("--rounds >= 1 and --moves >= 1.")
        run(
            rounds=rounds,
            moves=moves,
            json_path=Path(options["json"]) if options["json"] else None,
            log=lambda line: self.stdout.write(line),
        )
