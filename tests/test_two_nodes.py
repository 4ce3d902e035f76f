"""Two web nodes on one database and one cache answer the same at once.

Two real gunicorn servers (separate processes, as on two machines behind a load balancer)
serve the test database and the suite's shared cache: Redis when the suite runs with
REDIS_URL (CI), else the embedded file cache. One browser, one cookie jar: it writes
through one node and reads through the other. Every change must show on the other node with
its very next request: a move, the organisation's name, an exchange rate, a stage's
probability and name (also in cached analytics figures), a sign-out, and failed sign-ins
counting towards the lock wherever they were tried.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
from datetime import timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from crm.web.money import format_compact
from pipeline.models import LostReason
from tests.factories import DealFactory

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30  # a node that does not answer by then has failed to start
PASSWORD = "correct-horse-battery"  # tests/factories.py

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """The test database, as a DATABASE_URL the nodes' settings read."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


def cache_environment() -> dict[str, str]:
    """The suite's cache (tests/conftest.py): the same Redis keys or the same folder."""
    cache = settings.CACHES["default"]
    if cache["BACKEND"] == "crm.shared.RedisCache":
        url = cache["LOCATION"]
    else:
        url = "file://" + cache["LOCATION"]
    return {"CACHE_URL": url, "CACHE_KEY_PREFIX": cache["KEY_PREFIX"]}


def node_environment() -> dict[str, str]:
    ambient = ("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CACHE_KEY_PREFIX", "CELERY_BROKER_URL")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DJANGO_") and name not in ambient
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.node_settings",
        DJANGO_SECRET_KEY="two-nodes-share-one-secret-key-" + "x" * 30,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_PLAIN_STATIC="1",
        DATABASE_URL=database_url(),
        # No broker: whatever a write queues is refused at once (a closed port), which the
        # product survives by design; the background work is not what is tested here.
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
        **cache_environment(),
    )
    return env


class Node:
    """One gunicorn server with one worker, on a socket this test holds open, so the first
    request simply waits in the queue until the worker is up: no polling, no sleep."""

    def __init__(self, name: str, log_dir: str) -> None:
        self.name = name
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log = self.log_path.open("wb")
        fd = self.listener.fileno()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "crm.wsgi:application",
                "--bind",
                f"fd://{fd}",
                "--workers",
                "1",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=node_environment(),
            pass_fds=[fd],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.listener.close()
        self.log.close()


class Browser:
    """One cookie jar for both nodes, like a browser behind a load balancer (cookies do not
    depend on the port)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(self, node: Node, method: str, path: str, data: dict | None = None):
        """(status, headers, body) of one request; redirects are returned, not followed."""
        headers = {"Host": "127.0.0.1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=START_SECONDS)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read().decode()
        except OSError as error:
            raise AssertionError(f"node {node.name}: {error}\n{node.log_tail()}") from error
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if response.status >= 500:
            raise AssertionError(f"node {node.name} answered {response.status}\n{node.log_tail()}")
        return response.status, response.headers, content

    def get(self, node: Node, path: str):
        status, _headers, content = self.request(node, "GET", path)
        assert status == 200, (node.name, path, status)
        return content

    def post(self, node: Node, path: str, data: dict) -> int:
        status, _headers, _content = self.request(node, "POST", path, data)
        return status

    def sign_in(self, node: Node, username: str, password: str = PASSWORD) -> int:
        self.request(node, "GET", reverse("login"))  # the CSRF cookie
        return self.post(node, reverse("login"), {"username": username, "password": password})


@pytest.fixture
def nodes(transactional_db):
    """Nodes A and B, up and answering (started together: each boots Django)."""
    with tempfile.TemporaryDirectory(prefix="two-nodes-") as log_dir:
        pair = [Node("A", log_dir), Node("B", log_dir)]
        try:
            for node in pair:
                status, _headers, _body = Browser().request(node, "GET", "/healthz")
                assert status == 200, node.log_tail()
            yield pair
        finally:
            for node in pair:
                node.stop()


def column(html: str, stage_pk: int) -> str:
    """The board's column of one stage: its header and its cards."""
    start = html.index(f'id="stage-{stage_pk}"')
    end = html.find('<section class="column"', start)
    return html[start : end if end != -1 else None]


def header(html: str, stage_pk: int) -> str:
    part = column(html, stage_pk)
    return part[: part.index("</header>")]


def compact(amount: str) -> str:
    with translation.override("en-gb"):
        return format_compact(Decimal(amount), "EUR")


def test_what_one_node_writes_the_other_shows_at_once(nodes, admin, bob, pipeline_a, stages_a):
    node_a, node_b = nodes
    # 10,000 DKK at the settings' fallback rate (0.1341): 1,341 EUR.
    deal = DealFactory(stage=stages_a[0], owner=admin, value=10_000, currency="DKK")
    # A deal lost from the second stage, for the loss analysis (whose figures are cached).
    DealFactory(
        stage=stages_a[1],
        owner=admin,
        status="lost",
        lost_reason=LostReason.objects.create(name="Price"),
        lost_from_stage=stages_a[1],
        created_at=timezone.now() - timedelta(days=9),
        closed_at=timezone.now() - timedelta(days=1),
    )
    board = reverse("board", args=[pipeline_a.pk])
    browser = Browser()

    # A session written by one node is found by the other.
    assert browser.sign_in(node_a, "admin") == 302
    before = browser.get(node_b, board)
    assert f'id="deal-{deal.pk}"' in column(before, stages_a[0].pk)
    assert compact("1341") in header(before, stages_a[0].pk)
    assert "Nordlys Solutions" in before

    # A move through A is on B's board.
    moved = browser.post(node_a, reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk})
    assert moved == 302
    after_move = browser.get(node_b, board)
    assert f'id="deal-{deal.pk}"' in column(after_move, stages_a[1].pk)
    assert f'id="deal-{deal.pk}"' not in column(after_move, stages_a[0].pk)

    # The organisation renamed through A: B's pages carry the new name.
    renamed = browser.post(
        node_a,
        reverse("settings-organisation"),
        {
            "name": "Fjord Systems",
            "reporting_currency": "EUR",
            "time_zone": "Europe/Copenhagen",
            "week_start": "0",
        },
    )
    assert renamed == 302
    after_rename = browser.get(node_b, board)
    assert "Fjord Systems" in after_rename and "Nordlys Solutions" not in after_rename

    # A new DKK rate through A: B's totals in EUR use it (10,000 x 0.5).
    rate = browser.post(
        node_a,
        reverse("settings-exchange-rate-create"),
        {
            "currency": "DKK",
            "rate": "0.5",
            "valid_from": timezone.localdate().isoformat(),
            "reporting_currency": "EUR",
        },
    )
    assert rate == 302
    after_rate = browser.get(node_b, board)
    assert compact("5000") in header(after_rate, stages_a[1].pk)

    losses = browser.get(node_b, reverse("analytics-losses"))  # B caches the figures
    assert "Qualified" in losses and "Qualified lead" not in losses

    # The stage's probability (and name) through A: B's board weighs with it, and B's
    # analytics, cached a moment ago, name the stage anew.
    stage = browser.post(
        node_a,
        reverse("settings-stage-update", args=[stages_a[1].pk]),
        {"name": "Qualified lead", "probability": "90", "rot_days": "30"},
    )
    assert stage == 302
    after_stage = browser.get(node_b, board)
    assert 'value="90"' in header(after_stage, stages_a[1].pk)
    assert compact("4500") in header(after_stage, stages_a[1].pk)
    assert "Qualified lead" in browser.get(node_b, reverse("analytics-losses"))

    # Signed out through A: the same cookie on B is a stranger.
    assert browser.post(node_a, reverse("logout"), {}) == 302
    status, headers, _body = browser.request(node_b, "GET", board)
    assert status == 302 and headers["Location"].startswith(reverse("login"))

    # Failed sign-ins count wherever they were tried: locked on B after 5 wrong on A.
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert browser.sign_in(node_a, "bob", "wrong password") == 200
    assert browser.sign_in(node_b, "bob") == 200  # the form again, not a redirect
