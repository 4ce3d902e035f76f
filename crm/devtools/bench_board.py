"""What `manage.py bench` measures of the board and the drag besides their times over HTTP
(crm/devtools/bench.py): the floors they are judged against, measured in the same run (the
page's own cards statement replayed bare, a bare single-row UPDATE), where a page's time goes (SQL,
Python, templates), the drag's queries, and the board's throughput under concurrent clients.
"""

from __future__ import annotations

import statistics
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.template.backends.django import Template as DjangoTemplate
from django.template.backends.jinja2 import Template as JinjaTemplate
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from crm.devtools.bench_http import HttpSession, timing_summary


def _p50_of(run: Callable[[], object], repeat: int) -> float:
    run()  # warm: plan cache, buffers
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def page_statements(user, path: str) -> list[tuple[str, tuple]]:
    """The SQL statements an in-process GET of `path` runs, as (sql, params), in order: the
    page's own queries, to be replayed bare (`floor_ms`)."""
    statements: list[tuple[str, tuple]] = []

    def keep(execute, sql, params, many, context):
        statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with _bench_client(user) as client:
        client.get(path)  # warm: templates, the exchange rates a process reads once a minute
        with connection.execute_wrapper(keep):
            response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return statements


# The statement that reads the board's cards (pipeline.selectors.board: a LATERAL join over
# the stage ids on PostgreSQL): the page's floor.
CARDS_STATEMENT_MARK = "board_stage"


def cards_statement(statements: list[tuple[str, tuple]]) -> tuple[str, tuple]:
    return next(s for s in statements if CARDS_STATEMENT_MARK in s[0])


def floor_ms(statements: list[tuple[str, tuple]], *, repeat: int = 50) -> float:
    """p50 of running `statements` bare, one after the other, from this process (round trips
    included): exactly the SQL the page sends, with nothing of Django around it."""

    def run():
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()

    return _p50_of(run, repeat)


def bare_update_ms(deal_id: int, *, repeat: int = 50) -> float:
    """p50 of a bare single-row UPDATE in its own transaction (autocommit), round trip
    included: the floor of any write."""

    def run():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE pipeline_deal SET version = version WHERE id = %s", [deal_id])

    return _p50_of(run, repeat)


@contextmanager
def _bench_client(user):
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ):
        client = Client()
        client.force_login(user)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
            yield client
        client.logout()


class _Clock:
    """Time spent in SQL (every statement through Django's connection) and in template
    renders (Django and Jinja2 templates, outermost call only) while active."""

    def __init__(self):
        self.sql = 0.0
        self.templates = 0.0
        self._depth = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql += time.perf_counter() - started

    def wrap(self, render):
        clock = self

        def timed(template, *args, **kwargs):
            clock._depth += 1
            started = time.perf_counter()
            try:
                return render(template, *args, **kwargs)
            finally:
                clock._depth -= 1
                if clock._depth == 0:
                    clock.templates += time.perf_counter() - started

        return timed


def time_shares(user, path: str, *, repeat: int = 30) -> dict[str, float]:
    """Where an in-process GET of `path` spends its time, as shares of the whole: SQL (the
    statements, round trips included), templates (rendering) and the rest, Python (Django,
    middleware, views, selectors). Measured over `repeat` requests after a warm one."""
    clock = _Clock()
    originals = (DjangoTemplate.render, JinjaTemplate.render)
    with _bench_client(user) as client:
        client.get(path)
        DjangoTemplate.render = clock.wrap(originals[0])
        JinjaTemplate.render = clock.wrap(originals[1])
        try:
            with connection.execute_wrapper(clock):
                started = time.perf_counter()
                for _ in range(repeat):
                    client.get(path)
                total = time.perf_counter() - started
        finally:
            DjangoTemplate.render, JinjaTemplate.render = originals
    python = max(total - clock.sql - clock.templates, 0.0)
    return {
        "sql": round(clock.sql / total, 3),
        "templates": round(clock.templates / total, 3),
        "python": round(python / total, 3),
        "in_process_ms": round(total / repeat * 1000, 2),
    }


def count_move_queries(user, path: str, data: dict) -> tuple[int, int, list[str]]:
    """The drag's queries, counted in-process (session and user included; BEGIN and COMMIT
    counted as the statements they are): its status, the count and the SQL. The organisation
    row, which each process reads once per 30 s, is read first, as a busy process has it."""
    from crm.organisation import organisation_get

    organisation_get()
    with _bench_client(user) as client:
        with CaptureQueriesContext(connection) as captured:
            response = client.post(path, data, HTTP_HX_REQUEST="true")
    return (
        response.status_code,
        len(captured.captured_queries),
        [q["sql"] for q in captured.captured_queries],
    )


def throughput(port: int, session_key: str, path: str, *, clients: int, requests: int) -> dict:
    """`clients` concurrent keep-alive clients each GET `path` `requests` times: completed
    requests per second, the p50 and p95 of their times, and how many did not answer 200."""
    times: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client():
        session = HttpSession(port, session_key)
        mine, failed = [], 0
        try:
            for _ in range(requests):
                started = time.perf_counter()
                status, _body = session.request("GET", path)
                mine.append((time.perf_counter() - started) * 1000)
                failed += status != 200
        finally:
            session.close()
        with lock:
            times.extend(mine)
            failures[0] += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(times),
        "per_second": round(len(times) / elapsed, 1),
        "ms": timing_summary(times) if times else None,
        "failures": failures[0],
    }
