"""What every web process, worker and node shares: the cache, and version tokens in it that
tell each process when something it keeps in memory has changed.

The cache (settings.CACHES) is Redis when REDIS_URL or CACHE_URL names one, else files under
var/cache that every process on the machine reads; never one process's memory. Anything
cached that a write can change is either deleted by the write or kept under a key holding a
*version*, a token the write replaces after commit (`changed`), so every process sees the
change with its next request.

Versions (`VERSIONS`):

- `organisation`: the organisation row (`crm.organisation`), which every page reads;
- `money`: the reporting currency and the exchange rates (`pipeline.money`), part of the key
  of every cached figure in money;
- `labels`: names and order of what reports show (pipelines, stages, lost reasons, product
  areas, users, teams), part of the key of the cached analytics figures;
- `webhooks`: the active webhook endpoints and their events (`webhooks.services.events`),
  which every write that records an event reads.

A process keeps a value it reads on every request (the organisation row, today's rates) in a
`Memo`: in memory, but only while the version it was read under is the current one (and at
most MEMO_MAX_SECONDS, in case a token was lost with the cache). Reading the versions costs one
cache round trip per request (`SharedStateMiddleware`), never a query.

A cache that cannot be reached answers like an empty one (`RedisCache`): versions are then new
on every request, so every value is read from the database again: slower, never wrong, never
an error page.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.db import transaction

from crm.replica import primary

logger = logging.getLogger(__name__)

VERSIONS = ("organisation", "money", "labels", "webhooks")
# Belt and braces: a memo is read again after this long even if no version moved (a token
# bump lost in a cache outage is then healed within this time).
MEMO_MAX_SECONDS = 60.0

# The versions read in this request or task (None outside one: read at every use), moved by
# its own writes.
_request_versions: ContextVar[dict[str, str] | None] = ContextVar("shared_versions", default=None)


def _version_key(name: str) -> str:
    return f"version:{name}"


def _read_versions(names) -> dict[str, str]:
    """The current tokens of `names` in one round trip; a missing one (new cache, evicted) is
    drawn afresh. A cache that keeps nothing gives a new token on every call, so memos read
    again every time."""
    keys = {name: _version_key(name) for name in names}
    found = cache.get_many(list(keys.values()))
    tokens = {}
    for name, key in keys.items():
        token = found.get(key)
        if token is None:
            fresh = uuid.uuid4().hex
            cache.add(key, fresh, timeout=None)
            token = cache.get(key) or fresh
        tokens[name] = token
    return tokens


def version(name: str) -> str:
    """The current token of version `name` (read once per request inside a request)."""
    scope = _request_versions.get()
    if scope is None:
        return _read_versions([name])[name]
    if name not in scope:
        scope.update(_read_versions([name] if scope else VERSIONS))
    return scope[name]


def changed(name: str) -> None:
    """Something version `name` covers was written: this process forgets its memos of it at
    once, and after commit (at once outside a transaction) the version gets a new token, which
    every other process sees with its next request. Call it in the writing transaction."""
    _forget_memos(name)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(name))
    else:
        _bump(name)


def _bump(name: str) -> None:
    token = uuid.uuid4().hex
    cache.set(_version_key(name), token, timeout=None)
    scope = _request_versions.get()
    if scope is not None:
        scope[name] = token
    _forget_memos(name)


def versions_read_once() -> None:
    """From here on in this thread (a request, a task), read each version once, at its first
    use, and keep it: a request or a task works with one consistent state, and pays one cache
    round trip for it, not one per use. `versions_read_always()` ends it."""
    _request_versions.set({})


def versions_read_always() -> None:
    _request_versions.set(None)


class SharedStateMiddleware:
    """Read the versions once per request (lazily, in one round trip, at the first use)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        versions_read_once()
        try:
            return self.get_response(request)
        finally:
            versions_read_always()


_memos: dict[str, list[Memo]] = {}


def _forget_memos(name: str) -> None:
    for memo in _memos.get(name, ()):
        memo.forget()


class Memo:
    """One value this process keeps while version `name` stays the same: `get(key)` answers
    from memory when the value was read under the current token for the same `key` (e.g. the
    day) less than MEMO_MAX_SECONDS ago, else calls `load(key)`, always against the primary
    database (a replica's lagging rows must never be kept as current)."""

    def __init__(self, name: str, load: Callable[[Any], Any]) -> None:
        assert name in VERSIONS, name
        self.name = name
        self.load = load
        self._lock = threading.Lock()
        self._entry: tuple[str, Hashable, float, Any] | None = None
        _memos.setdefault(name, []).append(self)

    def get(self, key: Hashable = None) -> Any:
        token = version(self.name)
        entry = self._entry
        if (
            entry is not None
            and entry[0] == token
            and entry[1] == key
            and time.monotonic() - entry[2] < MEMO_MAX_SECONDS
        ):
            return entry[3]
        with primary():
            value = self.load(key)
        with self._lock:
            self._entry = (token, key, time.monotonic(), value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._entry = None


# --- the Redis cache --------------------------------------------------------------------------

_outage_lock = threading.Lock()
_down_until: dict[str, float] = {}  # per Redis location, time.monotonic()


class RedisCache(DjangoRedisCache):
    """Django's Redis cache that answers like an empty cache while Redis cannot be reached:
    reads miss, writes are dropped, `incr` raises ValueError as for a missing key. The first
    failure logs one warning and skips Redis for CACHE_OUTAGE_SECONDS (per process), so a Redis
    that is down or slow costs one short timeout, not one per call; then one call tries again.
    `clear()` is not guarded: an operator asking for it must see it fail."""

    def _skipping(self) -> bool:
        return time.monotonic() < _down_until.get(self._location, 0.0)

    @property
    def _location(self) -> str:
        return self._servers[0]

    def _failed(self, error: Exception) -> None:
        with _outage_lock:
            new = _down_until.get(self._location, 0.0) == 0.0
            _down_until[self._location] = time.monotonic() + settings.CACHE_OUTAGE_SECONDS
        if new:
            logger.warning(
                "cache unreachable (%s: %s): reading from the database; next try in %g s",
                type(error).__name__,
                error,
                settings.CACHE_OUTAGE_SECONDS,
            )

    def _succeeded(self) -> None:
        if _down_until.get(self._location, 0.0):
            with _outage_lock:
                _down_until[self._location] = 0.0
            logger.info("cache reachable again")

    def _guarded(self, call: Callable[[], Any], fallback: Any) -> Any:
        from redis.exceptions import RedisError

        if self._skipping():
            return fallback
        try:
            result = call()
        except RedisError as error:
            self._failed(error)
            return fallback
        self._succeeded()
        return result

    def get(self, key, default=None, version=None):
        return self._guarded(lambda: super(RedisCache, self).get(key, default, version), default)

    def get_many(self, keys, version=None):
        return self._guarded(lambda: super(RedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._guarded(lambda: super(RedisCache, self).has_key(key, version), False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._guarded(lambda: super(RedisCache, self).set(key, value, timeout, version), None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(
            lambda: super(RedisCache, self).set_many(data, timeout, version), list(data)
        )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(
            lambda: super(RedisCache, self).add(key, value, timeout, version), False
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: super(RedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self._guarded(lambda: super(RedisCache, self).delete(key, version), False)

    def delete_many(self, keys, version=None):
        self._guarded(lambda: super(RedisCache, self).delete_many(keys, version), None)

    def incr(self, key, delta=1, version=None):
        missing = object()
        result = self._guarded(lambda: super(RedisCache, self).incr(key, delta, version), missing)
        if result is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).")
        return result

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version)

    def count_windows(self, windows: list[tuple[str, int, int]]) -> list[int] | None:
        """Rate-limit counters in one round trip (crm/web/ratelimit.py): for each (key,
        limit, timeout) in order, one more, stopping after the first over its limit. None
        when Redis is away or the cache is sharded over several servers: the caller then
        counts with `add` and `incr`, which answer like an empty cache."""
        if len(self._servers) != 1:
            return None
        keys = [self.make_and_validate_key(key) for key, _limit, _timeout in windows]
        args = [value for _key, limit, timeout in windows for value in (limit, timeout)]

        def call():
            client = self._cache.get_client(keys[0], write=True)
            return [int(n) for n in client.eval(_COUNT_WINDOWS, len(keys), *keys, *args)]

        return self._guarded(call, None)


# INCR each key (a new one gets its timeout) and stop after the first over its limit.
_COUNT_WINDOWS = """
local counts = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
  counts[i] = count
  if count > tonumber(ARGV[2 * i - 1]) then break end
end
return counts
"""
