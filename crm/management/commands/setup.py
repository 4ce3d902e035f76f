"""`manage.py setup`: the first-run set-up without a browser, every answer a flag (for
scripted installs). Refuses, changing nothing, when the CRM is set up already (exit 3) or an
answer is refused (exit 1). The options are read here; the work is crm.services.setup.setup_run.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from accounts.models import Role
from crm.models import WeekStart
from crm.rules import RuleError
from crm.services.setup import (
    SetupAlreadyDone,
    pipeline_template_options,
    setup_run,
)

PASSWORD_ENV = "SETUP_ADMIN_PASSWORD"
ALREADY_DONE_EXIT = 3
WEEK_STARTS = {"monday": WeekStart.MONDAY, "sunday": WeekStart.SUNDAY}


class Command(BaseCommand):
    help = (
        "Set up an empty CRM without a browser: organisation, first admin, first team and its "
        "pipeline, invitations. Refuses when the CRM is set up already."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        org = parser.add_argument_group("organisation")
        org.add_argument("--org-name", required=True, help="The organisation's name.")
        org.add_argument(
            "--currency",
            default=settings.REPORTING_CURRENCY,
            help="Reporting currency, e.g. EUR, DKK (default: REPORTING_CURRENCY).",
        )
        org.add_argument(
            "--time-zone",
            default=settings.TIME_ZONE,
            help="IANA time zone, e.g. Europe/Copenhagen (default: ORGANISATION_TIME_ZONE).",
        )
        org.add_argument(
            "--language",
            default=settings.LANGUAGE_CODE,
            choices=[code for code, _name in settings.LANGUAGES],
            help="Language of mail from the CRM (default: %(default)s).",
        )
        org.add_argument(
            "--week-start", default="monday", choices=sorted(WEEK_STARTS), help="Default: monday."
        )
        admin = parser.add_argument_group("first admin")
        admin.add_argument("--admin-username", required=True)
        admin.add_argument("--admin-email", required=True)
        admin.add_argument("--admin-first-name", default="")
        admin.add_argument("--admin-last-name", default="")
        secret = admin.add_mutually_exclusive_group()
        secret.add_argument(
            "--admin-password",
            help=f"The password (visible to other users of this machine: prefer "
            f"--admin-password-file or the {PASSWORD_ENV} environment variable).",
        )
        secret.add_argument(
            "--admin-password-file", type=Path, help="A file whose first line is the password."
        )
        team = parser.add_argument_group("team and pipeline")
        team.add_argument("--team", required=True, help="The first team's name.")
        team.add_argument(
            "--template",
            default=pipeline_template_options()[0].key,
            help="The pipeline template's key: "
            + ", ".join(option.key for option in pipeline_template_options())
            + " (default: %(default)s).",
        )
        team.add_argument("--pipeline-name", default="", help="Default: the template's name.")
        parser.add_argument(
            "--invite",
            action="append",
            default=[],
            metavar="EMAIL[:ROLE]",
            help="Invite someone into the team (role: "
            + ", ".join(Role.values)
            + "; default salesperson). Repeat for more.",
        )

    def handle(self, *args, **options) -> None:
        password = self._password(options)
        invites = [self._invite(value) for value in options["invite"]]
        try:
            # One transaction: a refused answer leaves the install as empty as it was.
            result = setup_run(
                organisation={
                    "name": options["org_name"],
                    "reporting_currency": options["currency"],
                    "time_zone": options["time_zone"],
                    "language": options["language"],
                    "week_start": WEEK_STARTS[options["week_start"]],
                },
                admin={
                    "username": options["admin_username"],
                    "first_name": options["admin_first_name"],
                    "last_name": options["admin_last_name"],
                    "email": options["admin_email"],
                    "password": password,
                },
                team_name=options["team"],
                template_key=options["template"],
                pipeline_name=options["pipeline_name"],
                invites=invites,
            )
        except SetupAlreadyDone:
            raise CommandError(
                "This CRM is set up already (it has users); nothing was changed.",
                returncode=ALREADY_DONE_EXIT,
            ) from None
        except RuleError as error:
            field = f" ({error.field})" if error.field else ""
            raise CommandError(f"{error.message}{field} Nothing was changed.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Set up {options['org_name']}: admin {result.admin.username}, team "
                f"{result.pipeline.team.name}, pipeline {result.pipeline.name} "
                f"(#{result.pipeline.pk}), {len(result.invitations)} invitation(s) sent."
            )
        )

    def _password(self, options) -> str:
        if options["admin_password"]:
            return options["admin_password"]
        if options["admin_password_file"]:
            try:
                text = options["admin_password_file"].read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Cannot read the password file: {error}") from None
            lines = text.splitlines()
            password = lines[0] if lines else ""
        else:
            password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise CommandError(
                f"Give the admin's password: --admin-password-file, --admin-password or the "
                f"{PASSWORD_ENV} environment variable."
            )
        return password

    def _invite(self, value: str) -> tuple[str, str]:
        email, _, role = value.partition(":")
        email, role = email.strip(), (role.strip().lower() or Role.SALESPERSON)
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"--invite {value!r}: not an e-mail address.") from None
        if role not in Role.values:
            raise CommandError(
                f"--invite {value!r}: the role must be one of {', '.join(Role.values)}."
            )
        return email, role
