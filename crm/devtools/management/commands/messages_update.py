"""`manage.py messages_update` (`make messages`): every language's catalogues regenerated
from the code, translations kept. The work is in crm/devtools/messages.py."""

from django.core.management.base import BaseCommand, CommandParser

from crm.devtools.messages import DOMAINS, LANGUAGES, compile_all, update


class Command(BaseCommand):
    help = (
        "Extract every marked string (Python, Django and Jinja templates, JavaScript) into "
        "locale/<language>/LC_MESSAGES/{django,djangojs}.po, keeping the translations, and "
        "compile them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--language", action="append", choices=LANGUAGES, help="Only this language."
        )
        parser.add_argument("--domain", action="append", choices=DOMAINS, help="Only this one.")

    def handle(self, *args, **options) -> None:
        remaining = update(
            languages=options["language"] or LANGUAGES, domains=options["domain"] or DOMAINS
        )
        for path, count in remaining.items():
            note = f"{count} to translate" if count else "complete"
            self.stdout.write(f"{path}: {note}")
        compile_all()
