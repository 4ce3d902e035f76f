"""A real HTTP receiver on a local port, and the settings that let the CRM reach it (http and
a loopback address are refused by default)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from webhooks.models import EventType
from webhooks.services.endpoints import endpoint_create


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with `answer(n)` (n: 1 for the first request), a (status, body,
    headers) triple, and keeps what it received."""

    answer: Callable[[int], tuple[int, bytes, dict]] = lambda n: (200, b"ok", {})
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    port: int = 0

    def delivered_ids(self) -> list[str]:
        return [r.payload["id"] for r in self.received if 200 <= r.status < 300]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                received = Received(dict(self.headers), body, 0)
                state.received.append(received)
                status, answer, headers = state.answer(len(state.received))
                received.status = status
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def local_receivers_allowed():
    with override_settings(WEBHOOKS_ALLOW_HTTP=True, WEBHOOKS_ALLOW_PRIVATE=True):
        yield


@pytest.fixture
def endpoint(admin, receiver, local_receivers_allowed):
    """An endpoint of every event, pointing at the receiver; `endpoint.test_secret` is its
    secret as shown to the admin."""
    made, secret = endpoint_create(acting_user=admin, url=receiver.url, events=EventType.values)
    made.test_secret = secret
    return made
