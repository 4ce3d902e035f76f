"""/healthz and /readyz: answered without login, whatever the Host, over plain HTTP, with
nothing but the state of each part."""

from __future__ import annotations

import socket
import time
from unittest import mock

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError
from django.test.utils import override_settings

from crm import health

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"
ALL_OK = {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


class DatabaseDown:
    """Stands in for django.db.connections when the server cannot be reached."""

    def __getitem__(self, alias):
        assert alias == DEFAULT_DB_ALIAS
        return self

    def cursor(self):
        raise OperationalError('could not connect to server "db.internal" (10.0.0.5)')


def test_healthz_answers_without_touching_the_database(client):
    """No `db` fixture: any query would fail the test."""
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-ID"]
    assert "Set-Cookie" not in response.headers


def test_readyz_answers_ok_when_every_part_answers(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == ALL_OK
    assert response["Cache-Control"] == "no-store"


def test_readyz_with_the_embedded_filesystem_broker(client, db, tmp_path):
    names = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
    folders = {name: str(tmp_path) for name in names}
    with override_settings(
        CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=folders
    ):
        assert client.get("/readyz").json() == ALL_OK

    folders["control_folder"] = str(tmp_path / "missing")
    with override_settings(
        CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=folders
    ):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"
    assert "missing" not in response.text


@override_settings(CELERY_BROKER_URL=CLOSED_PORT_BROKER)
def test_readyz_is_503_when_the_broker_is_unreachable_and_answers_quickly(client, db, caplog):
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "ok", "broker": "unavailable"},
    }
    assert elapsed < 5  # one attempt with a 1 s timeout, not kombu's retries
    for secret in ("127.0.0.1", "redis", "refused", "Error"):
        assert secret not in response.text
    assert any("broker unavailable" in r.getMessage() for r in caplog.records)


def test_readyz_is_503_when_the_database_is_down(client, monkeypatch, caplog):
    monkeypatch.setattr(health, "connections", DatabaseDown())

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] == "unavailable"
    assert response.json()["checks"]["cache"] == "ok"
    assert "db.internal" not in response.text and "10.0.0.5" not in response.text
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


def test_readyz_is_503_when_the_cache_fails(client, db):
    def refuse(*args, **kwargs):
        raise ConnectionError("cache server gone")

    # Only for this request: the suite's own fixtures use the cache when they tidy up.
    with mock.patch.object(health.cache, "set", refuse):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "unavailable", "broker": "ok"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_checks_answer_a_host_outside_allowed_hosts(client, db, path):
    assert client.get(path, HTTP_HOST="10.1.2.3:8000").status_code == 200
    # Every other page still refuses that Host.
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_checks_are_not_redirected_to_https(client, db, path):
    assert client.get(path).status_code == 200
    assert client.get("/accounts/login/").status_code == 301


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_checks_refuse_other_methods(client, db, path, method):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_checks_answer_head_without_a_body(client, db, path):
    response = client.head(path)

    assert response.status_code == 200
    assert response.content == b""


def test_only_the_exact_paths_are_checks(client, db):
    assert client.get("/healthz/").status_code == 404
    assert client.get("/readyz/extra").status_code == 404


def test_readyz_gives_up_on_a_broker_that_never_answers(client, db):
    """A broker that accepts the connection and then says nothing (a hung server) costs
    the check its short timeout, not the request's life."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0"):
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"
    assert elapsed < 5
