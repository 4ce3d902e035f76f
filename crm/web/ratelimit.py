"""Fixed-window rate limits in the shared cache (`django.core.cache`), for every door that has
one: the website lead forms (per client address and per form) and the REST API (per token,
and per client address for wrong tokens).

A rate reads "10/hour": so many requests per second, minute, hour or day. Each request adds
one to the counter of the current window under its key; over the limit the caller answers
429 with `Retry-After`, the whole seconds until the window ends (rounded up, at least 1). The
counters live in the cache every process shares, so a limit holds across web processes and
nodes; when the cache is emptied or cannot be reached the windows start again, which errs on
the side of letting people in.

`rate_hits` checks several limits in order, as one request meets them, and stops at the first
that refuses: the later counters are not counted, exactly as if each had been checked after
the one before allowed. On Redis that is one round trip (a small Lua script); on any other
cache it is `add` and `incr` per counter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_PERIODS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "10/hour" -> (10, 3600): so many requests per so many seconds."""
    try:
        count, period = rate.split("/", 1)
        limit, seconds = int(count), _PERIODS[period.strip().lower()]
    except (ValueError, KeyError, AttributeError):
        raise ImproperlyConfigured(
            f"A rate looks like 10/hour (per s, min, hour or day), not {rate!r}."
        ) from None
    if limit < 1:
        raise ImproperlyConfigured(f"A rate allows at least one request, not {rate!r}.")
    return limit, seconds


@dataclass(frozen=True)
class RateCheck:
    allowed: bool
    retry_after: int  # whole seconds until the window ends (at least 1)
    count: int = 0  # requests counted in the window so far, this one included
    limit: int = 0


@dataclass(frozen=True)
class _Window:
    cache_key: str
    limit: int
    seconds: int
    retry_after: int


def _window(key: str, rate: str, now: float) -> _Window:
    limit, seconds = parse_rate(rate)
    window = int(now // seconds)
    retry_after = max(1, math.ceil((window + 1) * seconds - now))
    return _Window(f"ratelimit:{key}:{seconds}:{window}", limit, seconds, retry_after)


def _count_one(window: _Window) -> int:
    """One more in `window` through the cache's own `add` and `incr` (atomic where they are:
    Redis, memcached, the per-process memory cache)."""
    if cache.add(window.cache_key, 1, timeout=window.seconds + 1):
        return 1
    try:
        return cache.incr(window.cache_key)
    except ValueError:  # expired between add and incr (or the cache is away): a new window
        cache.add(window.cache_key, 1, timeout=window.seconds + 1)
        return 1


def rate_hits(checks: list[tuple[str, str]], *, now: float | None = None) -> list[RateCheck]:
    """Count one request against each (key, rate) in order, stopping at the first over its
    limit: the answer has one RateCheck per counter counted, the last one refused when the
    list is shorter than `checks` or its last entry is not allowed."""
    now = time.time() if now is None else now
    windows = [_window(key, rate, now) for key, rate in checks]
    counts = _count_batch(windows)
    if counts is None:
        counts = []
        for window in windows:
            counts.append(_count_one(window))
            if counts[-1] > window.limit:
                break
    return [
        RateCheck(
            allowed=count <= window.limit,
            retry_after=window.retry_after,
            count=count,
            limit=window.limit,
        )
        for window, count in zip(windows, counts, strict=False)
    ]


def rate_hit(key: str, rate: str, *, now: float | None = None) -> RateCheck:
    """Count one more request under `key` in the current window of `rate`, and say whether it
    is still within the limit."""
    return rate_hits([(key, rate)], now=now)[0]


def first_refusal(results: list[RateCheck]) -> RateCheck | None:
    return next((result for result in results if not result.allowed), None)


def _count_batch(windows: list[_Window]) -> list[int] | None:
    """The counts from the shared Redis cache in one round trip, or None when the cache is
    another kind (the caller counts one by one)."""
    count_windows = getattr(cache, "count_windows", None)
    if count_windows is None or len(windows) < 2:
        return None
    return count_windows([(w.cache_key, w.limit, w.seconds + 1) for w in windows])
