"""Prepared statements for the few hot statements that are planned far longer than they run.

Django turns psycopg's prepared statements off (`prepare_threshold` None) unless the settings
ask for them, and turning them on for every statement was measured to hurt: once a statement
is prepared, PostgreSQL may settle on one plan for any parameters (`plan_cache_mode=auto`),
and the analytics pages, whose best plans depend on the period and the team, went 1.5-2x
slower in `make bench`. So preparing is asked for per statement, where the plan cannot depend
on the parameters: the drag's lock of one deal by its id (planning 1.8 ms, running 0.2 ms),
and the reads by key that every request or every board runs, compiled once per process
(`CompiledQuery(..., prepare=True)`, crm/compiled.py: the user, the board's switcher, stages
and kept totals, the owner filter's people; 0.05-0.17 ms of planning each).

Inside `prepared()`, psycopg prepares each statement on its first run on this connection and
reuses it afterwards (PostgreSQL plans it anew for the first five runs, then keeps a plan for
any parameters when that costs no more). Nothing changes on SQLite, or when server-side binding
is off (`DATABASE_SERVER_SIDE_BINDING=false`, e.g. behind a transaction-pooling PgBouncer,
which cannot keep prepared statements).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


def _server_side_binding(connection) -> bool:
    return connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True


@contextmanager
def prepared(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Prepare the statements run inside on the connection `using` (see the module's
    docstring)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not _server_side_binding(connection):
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    before = raw.prepare_threshold
    raw.prepare_threshold = 0
    try:
        yield
    finally:
        raw.prepare_threshold = before
