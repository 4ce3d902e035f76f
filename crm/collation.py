"""Lists sorted by name the way the page's language sorts: Danish and Norwegian put Æ, Ø, Å
after Z, Swedish Å, Ä, Ö, German sorts ä with a.

On PostgreSQL the ICU collations do it (`"da-x-icu"` ... `"en-GB-x-icu"`, present when the
server is built with ICU, as Debian's and the official images are): `by_name("name")` is
`name COLLATE "da-x-icu"` for a Danish page. Which of them the server has is read from
`pg_collation` once per process, when its first connection opens; a server without one falls
back to the database's own collation (the list is still sorted, in the server's order).

SQLite has no ICU. Each new SQLite connection registers collations of the same names,
written in Python (`sort_key`): case and accents folded the way each language folds them and
its own letters after Z. They are an approximation of ICU (no contractions, no
multi-level rules beyond "letters, then case, then the text itself"), good for the embedded
default's small lists; `docs/decisions.md` says so.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import F
from django.db.models.functions import Collate
from django.utils.translation import get_language

# Django language -> the ICU collation PostgreSQL names for it.
COLLATIONS = {
    "en-gb": "en-GB-x-icu",
    "da": "da-x-icu",
    "nb": "nb-x-icu",
    "sv": "sv-x-icu",
    "de": "de-x-icu",
}

# The collations each database (alias) has, read when its first connection opens.
_available: dict[str, frozenset[str]] = {}


def collation_for(language: str | None = None, *, using: str = "default") -> str | None:
    """The collation that sorts `language` (default: the active one) on database `using`,
    or None (then the database's own order)."""
    name = COLLATIONS.get((language or get_language() or "").lower())
    if name is None:
        return None
    available = _available.get(using)
    if available is None:
        available = _available.get("default", frozenset())
    return name if name in available else None


def by_name(*fields: str, language: str | None = None, using: str = "default") -> list:
    """`order_by(*by_name("first_name", "last_name"), "pk")`: each field in the language's
    collation where the database has it, as it is otherwise."""
    collation = collation_for(language, using=using)
    if collation is None:
        return [F(field) for field in fields]
    return [Collate(F(field), collation) for field in fields]


# --- SQLite: the same names, from Python --------------------------------------------------

# Letters each language sorts after Z, in its order (and letters it treats as one of them).
_AFTER_Z = {
    "da": {"æ": 1, "ä": 1, "ø": 2, "ö": 2, "å": 3},  # and "aa" as "å" (sort_key)
    "nb": {"æ": 1, "ä": 1, "ø": 2, "ö": 2, "å": 3},
    "sv": {"å": 1, "ä": 2, "æ": 2, "ö": 3, "ø": 3},
    "de": {},
    "en-gb": {},
}
_EXPANSIONS = {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "þ": "th"}


@lru_cache(maxsize=20000)
def sort_key(text: str, language: str) -> tuple:
    """A key that sorts `text` as `language` does, near enough: base letters first (accents
    and case ignored, "ä" as "a" in German), the language's own letters after "z", then the
    accents, then lower case before upper case."""
    after_z = _AFTER_Z.get(language, {})
    lowered = text.lower()
    if language in ("da", "nb"):
        lowered = lowered.replace("aa", "å")  # "Aarhus" is "Århus" to a Dane
    primary: list[str] = []
    for char in lowered:
        if char in after_z:
            primary.append(chr(ord("z") + after_z[char]))  # "{", "|", "}": just after "z"
            continue
        char = _EXPANSIONS.get(char, char)
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        primary.append(base)
    folded = unicodedata.normalize("NFD", text.lower())
    return ("".join(primary), folded, text.swapcase())


def _sqlite_collation(language: str):
    def compare(left: str, right: str) -> int:
        a, b = sort_key(left, language), sort_key(right, language)
        return (a > b) - (a < b)

    return compare


def _on_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        for language, name in COLLATIONS.items():
            connection.connection.create_collation(name, _sqlite_collation(language))
        _available.setdefault(connection.alias, frozenset(COLLATIONS.values()))
    elif connection.vendor == "postgresql" and connection.alias not in _available:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT collname FROM pg_collation WHERE collname = ANY(%s)",
                [list(COLLATIONS.values())],
            )
            _available[connection.alias] = frozenset(row[0] for row in cursor.fetchall())


def install() -> None:
    """Listen for new connections (crm.apps), and look at those already open."""
    connection_created.connect(_on_connection_created, dispatch_uid="crm.collation")
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _on_connection_created(None, connection)
