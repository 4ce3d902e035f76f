"""`manage.py loadtest`: A mixed-action load on one board through gunicorn and PostgreSQL.

The options are read here; the work is in crm/devtools/loadtest.py."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from crm.devtools.loadtest import LoadTest


class Command(BaseCommand):
    help = "Run a mixed-action load on one board through gunicorn (PostgreSQL); see README."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sessions", type=int, default=10, help="Concurrent sessions.")
        parser.add_argument("--actions", type=int, default=20, help="Actions per session.")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers.")
        parser.add_argument("--port", type=int, default=8766, help="Port for gunicorn.")
        parser.add_argument(
            "--seconds", type=float, default=120, help="Stop the sessions after this long."
        )
        parser.add_argument(
            "--background-rounds",
            type=int,
            default=2,
            help="Rounds of the background jobs while the load runs (0: none).",
        )
        parser.add_argument("--password", default="demo", help="The demo users' password.")
        parser.add_argument("--seed", type=int, default=12, help="Random seed of the plans.")

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                f"loadtest needs PostgreSQL, but the database is {connection.vendor}. "
                "Run `make loadtest` (DATABASE_URL=postgres://...)."
            )
        for name in ("sessions", "actions", "workers"):
            if not 1 <= options[name] <= 200:
                raise CommandError(f"--{name} must be between 1 and 200.")
        errors = LoadTest(stdout=self.stdout, stderr=self.stderr).run(
            sessions=options["sessions"],
            actions=options["actions"],
            workers=options["workers"],
            port=options["port"],
            seconds=options["seconds"],
            background_rounds=options["background_rounds"],
            password=options["password"],
            seed=options["seed"],
        )
        if errors:
            raise CommandError(f"{errors} errors (5xx, dropped connections or failed jobs).")
