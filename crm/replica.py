"""Reads from a database replica, for the pages that can afford to be a moment behind.

With DATABASE_REPLICA_URL set, the read-only report pages (the forecast, the analytics pages
and their exports and drill-downs) read from the replica: they are the heaviest reads, and a
replica a second or two behind changes nothing a manager decides on. Every other page reads
the primary: the board, a move, a deal, the review, the settings must show what was just
written. Concretely (`ReplicaRouter`):

- writes always go to the primary;
- reads go to the replica only inside a view marked `@reads_from_replica`, and even there
  not inside a transaction (a service's reads and writes stay on the primary together) nor in
  a `primary()` block (what a process keeps in memory, `crm.shared.Memo`, is read from the
  primary, so a lagging replica can never be memorised as current);
- a browser that has just written (any POST, PUT, PATCH or DELETE that did not fail) carries a
  short-lived cookie (`ReplicaPinMiddleware`, DATABASE_REPLICA_PIN_SECONDS) that keeps its
  report pages on the primary for a few seconds, so a target saved on the forecast page is
  on the forecast page the writer lands on.

Without a replica all of this is inert: every read goes to the primary, no cookie is set.
Migrations run on the primary only; the replica follows it by the database's own replication.
"""

from __future__ import annotations

import contextlib
import functools
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

PIN_COOKIE = "crm_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Whether reads may go to the replica here: True inside a report view, False in primary().
_replica_allowed: ContextVar[bool] = ContextVar("replica_allowed", default=False)


def replica_alias() -> str | None:
    """The replica's alias when one is configured, else None."""
    return getattr(settings, "READ_REPLICA", None)


def read_alias() -> str:
    """The alias a read here goes to (see the module docstring)."""
    alias = replica_alias()
    if alias is None or not _replica_allowed.get() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return alias


def read_connection():
    """The connection for a hand-written read (`with read_connection().cursor() as c`)."""
    return connections[read_alias()]


@contextlib.contextmanager
def primary():
    """Read from the primary in this block, whatever the view."""
    token = _replica_allowed.set(False)
    try:
        yield
    finally:
        _replica_allowed.reset(token)


def reads_from_replica(view):
    """Mark a read-only report view: its reads go to the replica, unless the browser has
    just written (the pin cookie). The session and the user, read before the view, stay on
    the primary."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        token = _replica_allowed.set(PIN_COOKIE not in request.COOKIES)
        try:
            return view(request, *args, **kwargs)
        finally:
            _replica_allowed.reset(token)

    return wrapped


class ReplicaRouter:
    """Django's database router for the rules above."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReplicaPinMiddleware:
    """After a request that may have written, keep this browser's report pages on the primary
    for DATABASE_REPLICA_PIN_SECONDS (see the module docstring). Sets nothing without a
    replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            replica_alias() is not None
            and request.method not in SAFE_METHODS
            and response.status_code < 400
        ):
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
