"""The fixed-window rate limits every public door uses (crm/web/ratelimit.py): the count per
window, Retry-After, several limits checked in order in one round trip on Redis (a refused
counter stops the ones after it), and the same answers from the one-by-one path."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from crm import shared
from crm.web.ratelimit import first_refusal, parse_rate, rate_hit, rate_hits

REDIS = {
    "default": {
        "BACKEND": "crm.shared.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/4",
        "KEY_PREFIX": "ratelimit-test",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}
NOW = 60 * 16_666_667 + 30.25  # 30.25 s into a minute


@pytest.fixture(params=["configured", "redis"])
def any_cache(request):
    """The suite's cache (one by one unless it is Redis) and Redis itself (one round trip)."""
    if request.param == "configured":
        cache.clear()
        yield
        cache.clear()
        return
    shared._down_until.clear()
    with override_settings(CACHES=REDIS):
        try:
            cache.clear()
        except Exception:  # noqa: BLE001 - no Redis on this machine
            pytest.skip("Redis is not reachable at 127.0.0.1:6379")
        yield
        cache.clear()


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("10/hour", (10, 3600)), ("120/min", (120, 60)), ("3/s", (3, 1)), ("1/day", (1, 86400))],
)
def test_a_rate_reads_as_count_per_period(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "10", "ten/hour", "10/fortnight", "0/min", "-1/min", None])
def test_a_malformed_rate_is_a_configuration_error(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)


def test_the_limit_counts_per_window_and_says_how_long_to_wait(any_cache):
    results = [rate_hit("door:a", "3/min", now=NOW) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.count for r in results] == [1, 2, 3, 4]
    assert results[-1].retry_after == 30  # 29.75 s left, rounded up
    assert rate_hit("door:b", "3/min", now=NOW).allowed  # another key counts apart
    assert rate_hit("door:a", "3/min", now=NOW + 30).allowed  # the next window starts again


def test_several_limits_are_checked_in_order(any_cache):
    checks = [("address:1", "2/min"), ("form:x", "5/min")]
    first = [rate_hits(checks, now=NOW) for _ in range(2)]
    assert all(r.allowed for results in first for r in results)
    refused = rate_hits(checks, now=NOW)
    # The address is over its limit: the form's counter is not counted at all.
    assert len(refused) == 1 and not refused[0].allowed
    assert first_refusal(refused) is refused[0]
    after = rate_hits([("address:2", "2/min"), ("form:x", "5/min")], now=NOW)
    assert [r.count for r in after] == [1, 3]
    assert first_refusal(after) is None


def test_redis_counts_in_one_round_trip_and_agrees_with_one_by_one(any_cache, monkeypatch):
    if not hasattr(cache, "count_windows"):
        pytest.skip("one by one on this cache")
    import redis

    calls = []
    original = redis.Redis.execute_command

    def counted(self, *args, **options):
        calls.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    results = rate_hits([("a", "2/min"), ("b", "2/min"), ("c", "2/min")], now=NOW)
    monkeypatch.undo()
    assert calls == ["EVAL"] and [r.count for r in results] == [1, 1, 1]
    # The counters are plain cache values: the one-by-one path goes on counting them.
    assert rate_hit("a", "2/min", now=NOW).count == 2
    assert rate_hit("a", "2/min", now=NOW).allowed is False


def test_a_cache_that_is_away_lets_people_in():
    shared._down_until.clear()
    down = {**REDIS["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    with override_settings(CACHES={"default": down}):
        results = [rate_hits([("a", "1/min"), ("b", "1/min")], now=NOW) for _ in range(3)]
    shared._down_until.clear()
    assert all(r.allowed for batch in results for r in batch)
