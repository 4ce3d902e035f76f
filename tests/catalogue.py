"""A real gettext catalogue made for one test: the branch's own catalogues are being
translated elsewhere, so a test that must see a translated text compiles the few messages it
needs (polib, as the catalogue check does) and points LOCALE_PATHS at them; Django drops its
loaded translations when the setting changes, and again when the test ends."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import polib
from django.test import override_settings


@contextmanager
def catalogue(directory: Path, messages: dict[str, dict[str, str]]):
    """`messages`: language -> {msgid: msgstr}."""
    for language, entries in messages.items():
        po = polib.POFile()
        po.metadata = {
            "Content-Type": "text/plain; charset=UTF-8",
            "Plural-Forms": "nplurals=2; plural=(n != 1);",
        }
        for msgid, msgstr in entries.items():
            po.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
        folder = directory / language / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        po.save_as_mofile(str(folder / "django.mo"))
    with override_settings(LOCALE_PATHS=[str(directory)]):
        yield
