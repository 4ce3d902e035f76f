"""`manage.py setup_link`: print the first-run set-up's link (with its token) while the
install is empty. `make run DEMO=0` and the compose file's web service run it before the
server starts, so the link is in the console and in the container's log."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from crm.selectors.setup import setup_status
from crm.services.setup import setup_link, setup_token_ensure, setup_token_rotate


class Command(BaseCommand):
    help = "Print the first-run set-up link (with its one-time token) while the CRM is empty."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=None,
            help="Scheme and host the link starts with (default: SITE_URL).",
        )
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Make a new token; the old one stops working (if it leaked).",
        )

    def handle(self, *args, **options) -> None:
        base = (options["base_url"] or settings.SITE_URL).rstrip("/")
        status = setup_status()
        if status.done:
            self.stdout.write(f"This CRM is set up. Sign in at {base}/")
            return
        if status.in_progress:
            self.stdout.write(
                f"Set-up is under way: its first admin finishes it after signing in at {base}/"
            )
            return
        token = setup_token_rotate() if options["rotate"] else setup_token_ensure()
        link = setup_link(token=token, base_url=base)
        self.stdout.write(
            "\n  This CRM is not set up yet. Open this link to set it up:\n\n"
            f"    {link}\n\n"
            "  It works until the first admin is created; `python manage.py setup_link` "
            "prints it again.\n"
        )
