"""Transactions that survive many people on one board.

Every write service runs in `atomic_with_retry` instead of a bare `transaction.atomic`. The
lock order (docs/architecture.md, "Locks") makes deadlocks between our own writes rare, but
PostgreSQL can still pick a victim when a write meets a bulk job, and a serialization failure
is always possible: such a transaction is rolled back, so running it once more from the start
is safe. A second failure is answered with `TryAgain` (409 and the board's usual refusal),
never with a 500.

Only the outermost transaction retries: a service called inside another one is part of that
transaction, and only its owner can start it again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils.translation import gettext_lazy as _

from crm.rules import RuleError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# PostgreSQL's SQLSTATE codes for "this transaction lost a race; run it again".
DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
TRANSIENT_STATES = frozenset({DEADLOCK_DETECTED, SERIALIZATION_FAILURE})

ATTEMPTS = 2


class TryAgain(RuleError):
    """The database refused a transaction twice because of other people's changes at the same
    moment. Nothing was written; the user can simply try again (409)."""

    status = 409

    def __init__(self, message: str | None = None):
        super().__init__(message or _("Many changes arrived at the same moment. Please try again."))


def is_transient(error: BaseException) -> bool:
    """A deadlock victim or a serialization failure: rolled back whole, safe to rerun."""
    cause = error.__cause__ if isinstance(error, DatabaseError) else error
    return getattr(cause, "sqlstate", None) in TRANSIENT_STATES


def is_database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or the connection died under us (a restart, a killed
    backend, a network cut): answer "try again in a moment", not a traceback."""
    return isinstance(error, InterfaceError | OperationalError) and not is_transient(error)


def atomic_with_retry(func: Callable[P, R]) -> Callable[P, R]:
    """`transaction.atomic`, run once more when the database reports a deadlock or a
    serialization failure; `TryAgain` when the second run fails the same way.

    The decorated function must be safe to run again from the start: it reads what it changes
    inside the transaction (the services lock and reload their rows) and sends nothing to the
    outside world before commit (enqueue with `transaction.on_commit`)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            with transaction.atomic():
                return func(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except OperationalError as error:
                if not is_transient(error):
                    raise
                logger.warning(
                    "%s lost a race in the database (attempt %d of %d): %s",
                    func.__qualname__,
                    attempt,
                    ATTEMPTS,
                    getattr(error.__cause__, "sqlstate", ""),
                )
                if attempt == ATTEMPTS:
                    raise TryAgain() from error
        raise AssertionError("unreachable")  # pragma: no cover

    return run
