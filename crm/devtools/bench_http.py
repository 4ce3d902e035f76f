"""Timing pages over HTTP: a signed-in session with its CSRF token, and percentiles."""

from __future__ import annotations

import http.client
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

WARMUP_REQUESTS = 5


CSRF_TOKEN = "benchcsrftoken0123456789abcdefgh"  # 32 alphanumerics: a valid CSRF secret


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def timing_summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(statistics.fmean(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


class HttpSession:
    """A keep-alive HTTP/1.1 connection with the bench user's cookies (reconnects when the
    server closes the connection, as gunicorn's sync workers do)."""

    def __init__(self, port: int, session_key: str):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {
            "Host": f"127.0.0.1:{port}",
            "Cookie": f"sessionid={session_key}; csrftoken={CSRF_TOKEN}",
        }

    def request(self, method: str, path: str, *, body: str | None = None, headers=None):
        response, data = self.send(method, path, body=body, headers=headers)
        return response.status, data

    def send(self, method: str, path: str, *, body: str | None = None, headers=None):
        """The response (its status and headers) and its body."""
        all_headers = {**self.headers, **(headers or {})}
        try:
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.will_close:
            self.conn.close()
        return response, data

    def close(self) -> None:
        self.conn.close()


def first_lines(body: bytes, n: int = 15) -> str:
    return "\n".join(body.decode("utf-8", "replace").strip().splitlines()[:n])


@dataclass
class TimedGets:
    times: list[float]  # ms, the warm-ups left out
    body: bytes  # the last answer's
    error: str  # "" when every answer was 200, else the first other one


def timed_gets(
    http: HttpSession,
    path: str,
    *,
    requests: int,
    warmup: int = WARMUP_REQUESTS,
    before: Callable[[], object] | None = None,
) -> TimedGets:
    """GET `path` `warmup` + `requests` times, each timed until its body is read (`before`
    runs ahead of each request, untimed: e.g. emptying the cache); stops at the first answer
    that is not 200."""
    times: list[float] = []
    body = b""
    for index in range(warmup + requests):
        if before is not None:
            before()
        started = time.perf_counter()
        status, body = http.request("GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            return TimedGets(times, body, f"{status}\n{first_lines(body)}")
        if index >= warmup:
            times.append(elapsed)
    return TimedGets(times, body, "")
