"""Querysets compiled once per process, for the few reads that run on every request (the
signed-in user with their memberships, the board's stages and the owner filter's people).

Building a queryset and compiling it to SQL costs Django 0.3-0.8 ms of Python per query
(resolving lookups and joins, quoting names), several times what PostgreSQL takes to run
these small statements. `CompiledQuery` builds the queryset once per database alias with
a sentinel for each parameter, keeps the SQL, and runs it as a raw query with the values
put where the sentinels were: the same statement, planned and run as before, returning
model instances (annotations as attributes). Values the ORM would have converted are only
converted for model fields (annotations come as the database gives them: 0/1 for a boolean
on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import RawQuerySet
from django.utils.translation import get_language

# Far outside any id or count: a sentinel must not equal a constant of the query itself.
_SENTINEL_BASE = -(2**62)


class CompiledQuery:
    """`build(**parameters)` (a queryset of `model`) compiled once per database alias, run
    with `.raw(**values)`. `per_language`: once per language as well, for a query whose SQL
    depends on the active language (names ordered in its collation, crm/collation.py)."""

    def __init__(
        self,
        model: type[Model],
        build: Callable[..., QuerySet],
        *parameters: str,
        per_language: bool = False,
    ):
        self.model = model
        self.build = build
        self.parameters = parameters
        self.per_language = per_language
        self._compiled: dict[tuple, tuple[str, list[Any], list[str | None]]] = {}

    def _compile(self, alias: str) -> tuple[str, list[Any], list[str | None]]:
        sentinels = {name: _SENTINEL_BASE - i for i, name in enumerate(self.parameters)}
        queryset = self.build(**sentinels)
        sql, params = queryset.query.get_compiler(using=alias).as_sql()
        by_value = {value: name for name, value in sentinels.items()}
        slots = [by_value.get(p) if isinstance(p, int) else None for p in params]
        missing = set(self.parameters) - set(slots)
        if missing:
            raise ValueError(f"The compiled query does not use {sorted(missing)}.")
        return sql, list(params), slots

    def raw(self, **values: Any) -> RawQuerySet:
        alias = router.db_for_read(self.model)
        # Per vendor as well as alias: tests may point one alias at another database.
        key = (alias, connections[alias].vendor, get_language() if self.per_language else None)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(alias)
        sql, params, slots = compiled
        filled = [
            values[slot] if slot else param for param, slot in zip(params, slots, strict=True)
        ]
        return self.model._default_manager.raw(sql, filled, using=alias)
