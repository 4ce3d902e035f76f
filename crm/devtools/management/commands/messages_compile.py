"""`manage.py messages_compile`: a .mo beside every catalogue under locale/, in pure Python
(no GNU gettext needed), rewritten only when it changed. Run by `make venv`, `make test`,
the Dockerfile and CI; the .mo files are never committed."""

from django.core.management.base import BaseCommand

from crm.devtools.messages import compile_all


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo files (fuzzy entries left out)."

    def handle(self, *args, **options) -> None:
        written = compile_all()
        self.stdout.write(f"{len(written)} catalogues compiled.")
