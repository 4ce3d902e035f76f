"""Fixed-window rate limits in the shared cache (`django.core.cache`), for the public doors.

A rate reads "10/hour": so many requests per second, minute, hour or day. Each request adds
one to the counter of the current window under its key; over the limit the caller answers
429 with `Retry-After`, the seconds until the window ends. The counters live in the cache every
process shares, so the limit holds across web processes; when the cache is emptied (a restart
of a per-process cache) the windows start again, which errs on the side of letting people in.
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
    except (ValueError, KeyError):
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


def rate_hit(key: str, rate: str, *, now: float | None = None) -> RateCheck:
    """Count one more request under `key` in the current window of `rate`, and say whether it
    is still within the limit. Atomic where the cache's `incr` is (Redis, memcached, the
    per-process memory cache)."""
    limit, seconds = parse_rate(rate)
    now = time.time() if now is None else now
    window = int(now // seconds)
    cache_key = f"ratelimit:{key}:{seconds}:{window}"
    if cache.add(cache_key, 1, timeout=seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr: this request opens the window
            cache.add(cache_key, 1, timeout=seconds + 1)
            count = 1
    retry_after = max(1, math.ceil((window + 1) * seconds - now))
    return RateCheck(allowed=count <= limit, retry_after=retry_after)
