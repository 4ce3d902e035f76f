"""The server side of the timings, shared by `bench`, `bench_analytics` and `loadtest`:
gunicorn started, awaited and stopped on 127.0.0.1, a signed-in session for its requests, the
environment of `manage.py` child processes, and a page's SQL queries counted in-process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import User
from crm.devtools.bench_http import HttpSession, first_lines

ENV_DEFAULTS = {
    "DJANGO_SECRET_KEY": "insecure-key-for-benchmarks-only",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    "DJANGO_PLAIN_STATIC": "1",
}


def child_env() -> dict[str, str]:
    """This process's environment with the benchmark defaults filled in where unset."""
    env = os.environ.copy()
    for key, value in ENV_DEFAULTS.items():
        env.setdefault(key, value)
    return env


def login_session(user: User) -> str:
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def logout_session(session_key: str) -> None:
    """End a session login_session made: its row and its copy in the shared cache."""
    from importlib import import_module

    import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).delete()


def start_gunicorn(
    port: int, log_path: Path, *, workers: int = 2, log: Callable[[str], object]
) -> subprocess.Popen:
    with socket.socket() as probe:
        # Like gunicorn: connections of an earlier run in TIME_WAIT don't block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise CommandError(f"Port {port} is in use; pass --port.") from error
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        found = shutil.which("gunicorn")
        if not found:
            raise CommandError("gunicorn is not installed (pip install -e '.[dev]').")
        gunicorn = Path(found)
    env = child_env()
    env.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    command = [
        str(gunicorn),
        "crm.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
    ]
    log(f"Starting {' '.join(command[1:])} (log: {log_path})")
    log_file = open(log_path, "wb")  # handed to the child, closed in stop_gunicorn
    process = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    process.bench_log = log_file
    return process


def wait_until_up(server, http: HttpSession, path: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    last_error = ""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(
                f"gunicorn exited with {server.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            status, body = http.request("GET", path)
        except OSError as error:
            last_error = str(error)
            http.close()
            time.sleep(0.2)
            continue
        if status == 200:
            return
        raise CommandError(f"GET {path} answered {status} while starting:\n{first_lines(body)}")
    raise CommandError(f"gunicorn did not answer within 30 s ({last_error}).")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
    server.bench_log.close()


def report_gunicorn_log(log_path: Path, *, err: Callable[[str], object]) -> None:
    if not log_path.exists():
        return
    noisy = ("Traceback", "ERROR", "Error", "WARNING", "CRITICAL", "Exception")
    # Expected under load, not problems: the one-line 4xx answers (refusals, 409 conflicts)
    # and the slow-request lines the app logs itself (crm.observability).
    expected = ("WARNING django.request", "WARNING crm.requests")
    lines = log_path.read_text(errors="replace").splitlines()
    bad = [
        line
        for line in lines
        if any(word in line for word in noisy) and not any(e in line for e in expected)
    ]
    if bad:
        err(f"gunicorn reported problems ({log_path}):")
        for line in bad[:40]:
            err(f"  {line}")


def count_queries(user: User, path: str, *, err: Callable[[str], object]) -> tuple[int, list[str]]:
    """A page's SQL queries, counted in-process (the session lookup and user load
    included; force_login itself is not)."""
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
            # WhiteNoise warns once that STATIC_ROOT does not exist; the bench needs none.
            warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
            client.get(path)  # warm caches (content types, templates)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        client.logout()
    if response.status_code != 200:
        err(f"  in-process {path} answered {response.status_code}")
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]
