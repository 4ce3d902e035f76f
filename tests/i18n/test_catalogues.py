"""The catalogue check: every string the code marks is in every language's catalogue,
translated, not fuzzy, with the language's plural forms and the msgid's placeholders and tags.

The messages are extracted again from the code (in memory, locale/ untouched), as
`make messages` extracts them, so a string added without its translations fails here (in CI,
through `make test`). The fix: `make messages`, translate what it reports, commit the .po files.
"""

from __future__ import annotations

import gettext
import shutil

import pytest

from crm.devtools import messages
from crm.devtools.messages import DOMAINS, LANGUAGES, extract, problems


@pytest.fixture(scope="module")
def templates():
    return {domain: extract(domain) for domain in DOMAINS}


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_of_the_code_is_translated_in_every_language(domain, templates):
    found = problems(domain, template=templates[domain])
    found.sort(key=lambda problem: problem.what == "untranslated")  # the rarer kinds first
    shown = "\n".join(str(problem) for problem in found[:60])
    more = f"\n… and {len(found) - 60} more" if len(found) > 60 else ""
    assert not found, (
        f"{len(found)} problems in the {domain} catalogues; run `make messages` and translate "
        f"(docs/glossary.md):\n{shown}{more}"
    )


def test_extraction_finds_what_makemessages_misses(templates):
    """Jinja's ngettext and _() with arguments inside {{ }}, pgettext in a Jinja template, and
    the JavaScript strings."""
    django = templates["django"]
    assert django.get("%(n)s deal needs attention").id == (
        "%(n)s deal needs attention",
        "%(n)s deals need attention",
    )
    assert django.get("Weighted at %(p)s %%") is not None
    assert django.get("d", context="days in the stage, after the number on a card") is not None
    assert django.get("Won", context="deal status") is not None  # pgettext_lazy in Python
    assert django.get("Skip to content") is not None  # {% translate %} in a Django template
    js = templates["djangojs"]
    assert js.get("Copied") is not None
    assert js.get("Tier %(tier)s").auto_comments  # the translators' note travels along


@pytest.fixture
def locale_copy(tmp_path, settings):
    """A copy of the catalogues to break (locale/ itself is never touched)."""
    target = tmp_path / "locale"
    shutil.copytree(settings.BASE_DIR / "locale", target, ignore=shutil.ignore_patterns("*.mo"))
    return target


def _edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _po(base, language="da"):
    return base / language / "LC_MESSAGES" / "djangojs.po"


def test_a_catalogue_as_generated_passes(locale_copy, templates):
    assert problems("djangojs", base=locale_copy, template=templates["djangojs"]) == []


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ('msgid "Copied"\nmsgstr "Kopieret"', 'msgid "Copied"\nmsgstr ""', "untranslated"),
        ('msgid "Copied"\nmsgstr "Kopieret"', 'msgid "Copy"\nmsgstr "Kopiér"', "missing"),
        ('\nmsgid "Copied"', '\n#, fuzzy\nmsgid "Copied"', "fuzzy"),
        ('msgstr "Kundeklasse %(tier)s"', 'msgstr "Kundeklasse %(klasse)s"', "placeholders"),
        ('msgstr "Kopieret"', 'msgstr "<b>Kopieret</b>"', "placeholders"),
        ("plural=(n != 1)", "plural=(n > 1)", "plural forms"),
    ],
    ids=["untranslated", "missing", "fuzzy", "placeholder", "tag", "plural-forms"],
)
def test_the_check_fails_on_each_kind_of_problem(locale_copy, templates, old, new, what):
    _edit(_po(locale_copy), old, new)
    found = problems("djangojs", base=locale_copy, template=templates["djangojs"])
    assert [p for p in found if what in p.what and p.file == "da/djangojs.po"], found
    assert all(p.file == "da/djangojs.po" for p in found)  # the other languages are fine


def test_a_plural_with_a_form_missing_fails(locale_copy, templates):
    po = locale_copy / "de" / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    if 'msgid "%(n)s deal needs attention"' in text:  # once `make messages` brought it in
        start = text.index('\nmsgid "%(n)s deal needs attention"')
        text = text[:start] + text[text.index("\n\n", start + 1) :]
    entry = (
        '\n\nmsgid "%(n)s deal needs attention"\nmsgid_plural "%(n)s deals need attention"\n'
        'msgstr[0] "%(n)s Deal braucht Aufmerksamkeit"\n'
    )
    po.write_text(text.rstrip("\n") + entry, encoding="utf-8")
    found = problems("django", base=locale_copy, template=templates["django"])
    assert any(
        p.file == "de/django.po"
        and p.msgid == "%(n)s deal needs attention"
        and p.what == "untranslated"
        for p in found
    )


def test_update_keeps_translations_adds_new_msgids_and_drops_obsolete(locale_copy, settings):
    po = _po(locale_copy, "sv")
    _edit(po, 'msgid "Copied"', 'msgid "Copied to the clipboard"')  # now obsolete, "Copied" new
    _edit(po, 'msgstr "Kundklass %(tier)s"', 'msgstr "Kundklass %(tier)s!"')
    messages.update(languages=["sv"], domains=["djangojs"], base=locale_copy)
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "Kundklass %(tier)s!"' in text  # a translation is kept as it was
    assert "Copied to the clipboard" not in text  # --no-obsolete
    assert 'msgid "Copied"\nmsgstr ""' in text  # the code's new msgid, to translate


def test_compiled_catalogues_translate(locale_copy):
    messages.compile_all(base=locale_copy)
    for language, copied in [("da", "Kopieret"), ("de", "Kopiert")]:
        catalogue = gettext.translation("djangojs", locale_copy, languages=[language])
        assert catalogue.gettext("Copied") == copied
        assert catalogue.ngettext("x", "xs", 2) == "xs"


def test_every_language_offered_has_its_catalogues(settings):
    offered = {code for code, _ in settings.LANGUAGES} - {settings.LANGUAGE_CODE}
    assert offered == set(LANGUAGES)
