"""`manage.py import_records FILE --kind deals --user sven --pipeline 3 [--dry-run] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from crm.models import ImportKind, ImportStatus
from crm.rules import RuleError
from crm.selectors import import_pipelines_for_user, import_teams_for_user
from crm.services.imports import import_records


class Command(BaseCommand):
    help = (
        "Import companies, contacts or deals from a CSV or XLSX file as USER, as the web "
        "import does: headers recognised, stages matched by name, owners by e-mail or full "
        "name among the team's members; one batch, all or nothing, undoable from the import "
        "history. Rows with errors are left out and listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--kind", required=True, choices=ImportKind.values)
        parser.add_argument("--user", required=True, help="user name of the person importing")
        parser.add_argument("--pipeline", type=int, help="pipeline id (required for deals)")
        parser.add_argument(
            "--team", type=int, help="team id for companies and contacts (default: the user's)"
        )
        parser.add_argument("--dry-run", action="store_true", help="say what would happen")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        as_json = options["json"]
        try:
            batch, result = self._import(options)
        except CommandError as error:
            if as_json:
                self.stdout.write(json.dumps({"error": str(error)}, ensure_ascii=False))
            raise
        if batch is not None and batch.status != ImportStatus.DONE:
            message = batch.error_message or "the import did not finish"
            if as_json:
                self.stdout.write(json.dumps({"error": message}, ensure_ascii=False))
            raise CommandError(message)
        summary = {
            "kind": options["kind"],
            "dry_run": options["dry_run"],
            "batch": batch.pk if batch is not None else None,
            **result.as_dict(),
        }
        if as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
            return
        self._print(summary)

    def _import(self, options):
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['user']!r}.")
        kind = options["kind"]
        pipeline = team = None
        if options["pipeline"] is not None:
            pipeline = import_pipelines_for_user(user=user).filter(pk=options["pipeline"]).first()
            if pipeline is None:
                raise CommandError(
                    f"{user.username} cannot import into pipeline {options['pipeline']}."
                )
        if kind == ImportKind.DEALS and pipeline is None:
            raise CommandError("Deals need --pipeline ID.")
        if kind != ImportKind.DEALS:
            teams = import_teams_for_user(user=user)
            if options["team"] is not None:
                team = teams.filter(pk=options["team"]).first()
                if team is None:
                    raise CommandError(
                        f"{user.username} cannot import into team {options['team']}."
                    )
            elif pipeline is not None:
                team = pipeline.team
            elif teams.count() == 1:
                team = teams.get()
            else:
                raise CommandError("Name the team with --team ID (or a pipeline of it).")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        try:
            with path.open("rb") as file:
                return import_records(
                    acting_user=user,
                    kind=kind,
                    file=file,
                    file_name=path.name,
                    team=team,
                    pipeline=pipeline,
                    dry_run=options["dry_run"],
                )
        except RuleError as error:
            raise CommandError(error.message) from error
        except PermissionDenied as error:
            raise CommandError(str(error) or "Not allowed.") from error

    def _print(self, summary: dict) -> None:
        verb = "Would import" if summary["dry_run"] else "Imported"
        self.stdout.write(
            f"{verb} {summary['kind']}: {summary['created']} created, {summary['updated']} "
            f"updated, {summary['unchanged']} unchanged, {summary['skipped']} left out."
        )
        related = ", ".join(f"{n} {what}" for what, n in summary["related_created"].items() if n)
        if related:
            self.stdout.write(f"Also created: {related}.")
        for problem in summary["errors"] + summary["warnings"]:
            where = f"row {problem['row']}"
            if problem["column"]:
                where += f", {problem['column']}"
            self.stdout.write(f"  {where}: {problem['message']} ({problem['severity']})")
        if summary["batch"]:
            self.stdout.write(f"Batch {summary['batch']}: undo it from the import history.")
