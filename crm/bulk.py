"""Writing many new rows at once, for the import's bulk path.

`bulk_insert(model, rows)` inserts rows given as dicts of field attnames to values (every
other field takes its default, `auto_now` fields the time given) and returns their ids in
order. On PostgreSQL the ids are taken from the table's sequence first and the rows are
streamed with COPY through psycopg, which skips Django's per-value preparation and model
objects altogether: about five times less work than `bulk_create` for a deal's forty
columns, the largest part of an import's time. Elsewhere (SQLite) it is `bulk_create`.

`reserve_ids(model, count)` takes ids ahead (PostgreSQL only) for rows that point at each
other (a deal and its next step's activity): both can then be written in one pass, since
the foreign keys are checked at commit.

The values must be what the database stores: ids for foreign keys, aware datetimes, plain
strings for choices. The caller validates them (crm.importing, crm.services.imports).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.utils import timezone

BATCH_SIZE = 1000
# Field types psycopg writes as they are; any other field's value is prepared by the field.
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateField",
        "DateTimeField",
        "DecimalField",
        "EmailField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
        "URLField",
        "UUIDField",
    }
)


def reserve_ids(model, count: int) -> list[int]:
    """`count` ids from `model`'s sequence (PostgreSQL); [] where there is none to take."""
    if not count or connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _default(field, now: datetime):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda: now
    if field.has_default():
        if callable(field.default):
            return field.default
        value = field.get_default()
        return lambda: value
    value = None if field.null else field.get_default()
    return lambda: value


def bulk_insert(
    model, rows: Iterable[dict], *, now: datetime | None = None, ids: list[int] | None = None
) -> list[int]:
    """Insert `rows` (dicts of attname -> value) and return their ids, in order. With `ids`
    (from `reserve_ids`) the rows get those ids."""
    rows = list(rows)
    if not rows:
        return []
    now = now or timezone.now()
    fields = list(model._meta.concrete_fields)
    if connection.vendor != "postgresql":
        defaults = {
            f.attname: _default(f, now)
            for f in fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        }
        objects = [model(**{**{k: d() for k, d in defaults.items()}, **row}) for row in rows]
        if ids:
            for obj, pk in zip(objects, ids, strict=True):
                obj.pk = pk
        created = model._default_manager.bulk_create(objects, batch_size=BATCH_SIZE)
        return [obj.pk for obj in created]
    ids = ids or reserve_ids(model, len(rows))
    pk = model._meta.pk
    plan = []
    for field in fields:
        if field is pk:
            continue
        prepare = None
        if field.get_internal_type() not in _PLAIN_TYPES:
            prepare = field
        plan.append((field.attname, _default(field, now), prepare))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [pk, *[f for f in fields if f is not pk]])
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row_id, row in zip(ids, rows, strict=True):
            values = [row_id]
            for attname, default, prepare in plan:
                value = row[attname] if attname in row else default()
                if prepare is not None:
                    value = prepare.get_db_prep_save(value, connection)
                values.append(value)
            copy.write_row(values)
    return ids
