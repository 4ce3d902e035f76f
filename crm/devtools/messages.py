"""The message catalogues: extract every marked string, merge into each language's catalogue,
compile them, and check them. Pure Python (Babel), so neither CI nor the Docker image needs
GNU gettext.

- `extract(domain)`: the template catalogue of the code, in memory. The `django` domain reads
  Python (`accounts/`, `crm/`, `pipeline/`, `webhooks/`), Django templates (`.html`, `.txt`, through
  Django's own `templatize`, as `makemessages` does) and Jinja templates (`.jinja`, through
  Jinja's Babel extractor, which also finds `ngettext(...)` and `_()` inside `{{ }}` that
  `makemessages` misses); `djangojs` reads `static/js/*.js`.
- `update()`: msgmerge semantics (`make messages`): new msgids come in empty (or fuzzy when a
  near one was dropped), translations of kept msgids stay, msgids the code no longer has go.
- `compile_all()`: a `.mo` beside every `.po` (`make venv`, the Dockerfile).
- `problems(domain)`: what the catalogue check (tests/i18n/) reports.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract as babel_extract_messages
from babel.messages.extract import extract_javascript, extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.utils.translation.template import templatize
from jinja2.ext import babel_extract

LANGUAGES = ("da", "nb", "sv", "de")
DOMAINS = ("django", "djangojs")

# The keywords makemessages gives xgettext (and xgettext's own for Python); babel's spec:
# a number is the argument holding the singular (then the plural), (n, "c") the context.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
JS_KEYWORDS = {
    "gettext": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
PYTHON_PACKAGES = ("accounts", "crm", "pipeline", "webhooks")
TEMPLATE_SUFFIXES = (".html", ".txt")
JINJA_SUFFIX = ".jinja"


def root() -> Path:
    return Path(settings.BASE_DIR)


def locale_dir() -> Path:
    return root() / "locale"


def po_path(language: str, domain: str, base: Path | None = None) -> Path:
    return (base or locale_dir()) / language / "LC_MESSAGES" / f"{domain}.po"


def _sources(domain: str) -> Iterator[Path]:
    base = root()
    if domain == "djangojs":
        # i18n.js is the gettext library itself: its calls pass variables, not messages.
        yield from (p for p in sorted((base / "static" / "js").glob("*.js")) if p.name != "i18n.js")
        return
    for package in PYTHON_PACKAGES:
        for path in sorted((base / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path
    for path in sorted((base / "templates").rglob("*")):
        if path.suffix in (*TEMPLATE_SUFFIXES, JINJA_SUFFIX):
            yield path


def _messages(path: Path) -> Iterator[tuple]:
    """(lineno, message, comments, context) of one file, by Babel's extractors: message is
    the msgid, or (singular, plural)."""
    if path.suffix == ".js":
        method, keywords, options = extract_javascript, JS_KEYWORDS, {}
        data = path.read_bytes()
    elif path.suffix == JINJA_SUFFIX:
        method, keywords = babel_extract, KEYWORDS
        options = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}
        data = path.read_bytes()
    elif path.suffix in TEMPLATE_SUFFIXES:
        # Django's own translation of template tags to Python, as makemessages reads it. Its
        # calls are one line each; the indentation it keeps would trouble Python's tokenizer.
        method, keywords, options = extract_python, KEYWORDS, {}
        text = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        data = "\n".join(line.lstrip() for line in text.split("\n")).encode("utf-8")
    else:
        method, keywords, options = extract_python, KEYWORDS, {}
        data = path.read_bytes()
    comment_tags = ("Translators:",)
    yield from babel_extract_messages(method, io.BytesIO(data), keywords, comment_tags, options)


def extract(domain: str = "django") -> Catalog:
    """The template catalogue of the code: every marked string with where it is used."""
    catalog = Catalog(project="crm", fuzzy=False)
    base = root()
    for path in _sources(domain):
        relative = path.relative_to(base).as_posix()
        for lineno, message, comments, context in _messages(path):
            if not (message if isinstance(message, str) else message[0]):
                continue  # "" is the header's msgid, never a message
            catalog.add(
                message, locations=[(relative, lineno)], auto_comments=comments, context=context
            )
    return catalog


def _read(path: Path, language: str) -> Catalog:
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, abort_invalid=True)
    catalog.locale = language  # a header's empty "Language:" would leave it unset
    return catalog


def _write(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=79, ignore_obsolete=True, include_previous=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def update(languages=LANGUAGES, domains=DOMAINS, base: Path | None = None) -> dict[str, int]:
    """Regenerate each language's catalogues from the code, keeping every translation whose
    msgid the code still has (msgmerge, --no-obsolete). Returns each file's count of
    messages still to translate (empty or fuzzy)."""
    remaining = {}
    for domain in domains:
        template = extract(domain)
        for language in languages:
            path = po_path(language, domain, base)
            if path.exists():
                catalog = _read(path, language)
            else:
                catalog = Catalog(locale=language, project="crm", fuzzy=False)
            catalog.update(template, update_header_comment=False)
            catalog.obsolete.clear()
            _write(path, catalog)
            remaining[str(path.relative_to((base or locale_dir()).parent))] = sum(
                1 for m in catalog if m.id and (m.fuzzy or not _translated(m))
            )
    return remaining


def compile_all(base: Path | None = None) -> list[Path]:
    """A `.mo` beside every `.po` under `locale/` (fuzzy entries left out, as msgfmt does)."""
    written = []
    for path in sorted((base or locale_dir()).glob("*/LC_MESSAGES/*.po")):
        catalog = _read(path, path.parent.parent.name)
        target = path.with_suffix(".mo")
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        if not target.exists() or target.read_bytes() != buffer.getvalue():
            target.write_bytes(buffer.getvalue())
        written.append(target)
    return written


# --- the check -------------------------------------------------------------------------

PLACEHOLDER = re.compile(
    r"%\((?P<named>[A-Za-z_][A-Za-z0-9_]*)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]"  # %(name)s
    r"|%%"  # a literal percent sign
    r"|%[-#0 +]*\d*(?:\.\d+)?[sdifr]"  # %s %d
    r"|\{[A-Za-z_][A-Za-z0-9_]*\}"  # {name}
    r"|</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>"  # HTML tags, with their attributes
)


def placeholders(text: str) -> list[str]:
    """The placeholders and tags a translation must keep, sorted (order may change). A tag
    counts by its name: its attributes' texts (a title) may be translated."""
    found = []
    for match in PLACEHOLDER.finditer(text):
        token = match.group(0)
        if token.startswith("<"):
            token = re.match(r"</?[a-zA-Z0-9]+", token).group(0) + ">"
        found.append(token)
    return sorted(found)


def _translated(message) -> bool:
    if isinstance(message.string, tuple | list):
        return all(message.string)
    return bool(message.string)


@dataclass(frozen=True)
class Problem:
    file: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what}: {self.msgid!r}"


def problems(domain: str, base: Path | None = None, template: Catalog | None = None):
    """Everything wrong with the catalogues of `domain` against the code: a msgid the code has
    and a catalogue lacks, an empty or fuzzy entry, plural forms other than the language's,
    and a translation whose placeholders or tags differ from its msgid's."""
    template = template if template is not None else extract(domain)
    found = []
    for language in LANGUAGES:
        path = po_path(language, domain, base)
        name = f"{language}/{domain}.po"
        if not path.exists():
            found.append(Problem(name, "", "catalogue missing"))
            continue
        catalog = _read(path, language)
        expected = Catalog(locale=language)
        if catalog.plural_forms != expected.plural_forms:
            found.append(
                Problem(name, catalog.plural_forms, f"plural forms, not {expected.plural_forms}")
            )
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id, context=message.context)
            key = message.id if isinstance(message.id, str) else message.id[0]
            if entry is None:
                found.append(Problem(name, key, "missing from the catalogue"))
                continue
            if entry.id != message.id:
                found.append(Problem(name, key, f"msgid_plural differs from {message.id!r}"))
                continue
            found.extend(Problem(name, key, what) for what in _entry_problems(entry, expected))
    return found


def _entry_problems(entry, expected: Catalog) -> Iterator[str]:
    if entry.fuzzy:
        yield "fuzzy"
    ids = entry.id if isinstance(entry.id, tuple | list) else (entry.id,)
    strings = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
    if len(ids) > 1 and len(strings) != expected.num_plurals:
        yield f"{len(strings)} plural forms, not {expected.num_plurals}"
    if not all(strings):
        yield "untranslated"
        return
    for index, string in enumerate(strings):
        source = ids[min(index, len(ids) - 1)]
        wanted, got = placeholders(source), placeholders(string)
        if len(ids) > 1 and wanted != got:
            # "1 deal" may drop the %(n)s its plural keeps: compare with either form.
            alternatives = [placeholders(i) for i in ids]
            if got in alternatives or set(got) <= set(placeholders(ids[-1])):
                continue
        if wanted != got:
            yield f"placeholders {got} differ from {wanted}"
