"""`manage.py seed_demo`: the demo organisation: teams, people, pipelines, deals,
history.

The options are read here; the work is in crm/devtools/demo.py."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.devtools.demo import DemoSeeder


class Command(BaseCommand):
    help = "Seed a demo organisation (teams, users, pipelines, companies, deals)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--deals",
            type=int,
            default=0,
            help="Also append N open deals to North's 'New business' pipeline.",
        )
        parser.add_argument("--password", default="demo", help="Password for every demo user.")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (deterministic).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any user exists."
        )
        parser.add_argument(
            "--language",
            default=settings.LANGUAGE_CODE,
            choices=[code for code, _name in settings.LANGUAGES],
            help="The demo data's language (stage names, next steps, activities, lost "
            "reasons), also made the organisation's default.",
        )

    def handle(self, *args, **options) -> None:
        if options["deals"] < 0:
            raise CommandError("--deals must be zero or more.")
        if not options["password"]:
            raise CommandError("--password must not be empty.")
        DemoSeeder(stdout=self.stdout, style=self.style).run(
            extra_deals=options["deals"],
            password=options["password"],
            seed=options["seed"],
            if_empty=options["if_empty"],
            language=options["language"],
        )
