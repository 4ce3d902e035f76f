"""Querysets compiled once per process, for the few reads that run on every request (the
signed-in user with their memberships, the board's pipelines, stages, totals and cards, the
owner filter's people).

Building a queryset and compiling it to SQL costs Django 0.3-0.8 ms of Python per query
(resolving lookups and joins, quoting names), several times what PostgreSQL takes to run
these small statements. `CompiledQuery` builds the queryset once per database alias with
a sentinel for each parameter (a list of sentinels for a list, once per length), keeps the
SQL, and runs the same statement with the values put where the sentinels were:

- `fetch(**values)`: what the queryset itself returns (model instances with their
  `select_related` objects and annotations, or the dicts of `.values()`, converted as the ORM
  converts them), by the ORM's own iterables;
- `sql(**values)`: the statement and its parameters, to embed in a larger statement.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.utils.translation import get_language

from crm.prepared import prepared

# Far outside any id or count: a sentinel must not equal a constant of the query itself.
_SENTINEL_BASE = -(2**62)


@dataclass(frozen=True)
class _Compiled:
    queryset: QuerySet  # built with the sentinels: its iterable class and fields
    compiler: SQLCompiler | None  # after as_sql(): the columns, the related objects' layout
    sql: str  # "": the query can match nothing (an empty list for `__in`)
    params: tuple[Any, ...]
    # Per parameter of the statement: None (a constant of the query), or where its value
    # comes from: (name, None) for a single value, (name, i) for the i-th of a list.
    slots: tuple[tuple[str, int | None] | None, ...]

    def fill(self, values: dict[str, Any]) -> list[Any]:
        return [
            param if slot is None else _value(values[slot[0]], slot[1])
            for param, slot in zip(self.params, self.slots, strict=True)
        ]


def _value(value: Any, index: int | None) -> Any:
    return value if index is None else value[index]


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


class CompiledQuery:
    """`build(**parameters)` (a queryset of `model`) compiled once per database alias (and
    per length of each list parameter). `per_language`: once per language as well, for a
    query whose SQL depends on the active language (names ordered in its collation,
    crm/collation.py). `prepare`: `fetch` runs it as a prepared statement (crm/prepared.py),
    for a statement whose best plan cannot depend on its values (lookups by key): PostgreSQL
    then plans it once per connection instead of on every request."""

    def __init__(
        self,
        model: type[Model],
        build: Callable[..., QuerySet],
        *parameters: str,
        per_language: bool = False,
        prepare: bool = False,
    ):
        self.model = model
        self.build = build
        self.parameters = parameters
        self.per_language = per_language
        self.prepare = prepare
        self._compiled: dict[tuple, _Compiled] = {}

    def _compile(self, alias: str, shape: tuple[int | None, ...]) -> _Compiled:
        numbers = count()
        sentinels: dict[str, Any] = {}
        by_value: dict[int, tuple[str, int | None]] = {}
        for name, length in zip(self.parameters, shape, strict=True):
            if length is None:
                sentinels[name] = _SENTINEL_BASE - next(numbers)
                by_value[sentinels[name]] = (name, None)
            else:
                sentinels[name] = [_SENTINEL_BASE - next(numbers) for _ in range(length)]
                by_value.update((s, (name, i)) for i, s in enumerate(sentinels[name]))
        queryset = self.build(**sentinels)
        compiler = queryset.query.get_compiler(using=alias)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return _Compiled(queryset, None, "", (), ())
        slots = tuple(by_value.get(p) if type(p) is int else None for p in params)
        missing = {n for n, length in zip(self.parameters, shape, strict=True) if length != 0}
        missing -= {slot[0] for slot in slots if slot}
        if missing:
            raise ValueError(f"The compiled query does not use {sorted(missing)}.")
        return _Compiled(queryset, compiler, sql, tuple(params), slots)

    def _compiled_for(self, values: dict[str, Any]) -> tuple[str, _Compiled]:
        alias = router.db_for_read(self.model)
        shape = tuple(
            len(values[name]) if _is_list(values[name]) else None for name in self.parameters
        )
        # Per vendor as well as alias: tests may point one alias at another database.
        key = (
            alias,
            connections[alias].vendor,
            get_language() if self.per_language else None,
            shape,
        )
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(alias, shape)
        return alias, compiled

    def sql(self, **values: Any) -> tuple[str, list[Any]]:
        """Raises EmptyResultSet, as Django's compiler does, for a query that can match
        nothing."""
        _alias, compiled = self._compiled_for(values)
        if not compiled.sql:
            raise EmptyResultSet
        return compiled.sql, compiled.fill(values)

    def fetch(self, **values: Any) -> list:
        """The queryset's own results, by its own iterable (`ModelIterable`, `ValuesIterable`),
        from the compiled statement: the ORM reads the columns' layout (select_related,
        annotations, converters) from the compiler it kept, which answers `as_sql()` with the
        statement filled in."""
        alias, compiled = self._compiled_for(values)
        if not compiled.sql:
            return []
        statement = (compiled.sql, compiled.fill(values))
        compiler = copy.copy(compiled.compiler)
        compiler.connection = connections[alias]  # this thread's connection
        compiler.as_sql = lambda *args, **kwargs: statement
        query = copy.copy(compiled.queryset.query)
        query.get_compiler = lambda *args, **kwargs: compiler
        # A shallow copy of the built queryset (QuerySet's own copying would evaluate it):
        # its iterable and fields, none of its results.
        queryset = QuerySet.__new__(type(compiled.queryset))
        queryset.__dict__ = {
            **compiled.queryset.__dict__,
            "_query": query,
            "_db": alias,
            "_result_cache": None,
            "_prefetch_done": False,
        }
        if not self.prepare:
            return list(queryset)
        with prepared(alias):
            return list(queryset)
