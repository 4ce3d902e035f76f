"""The deployment files stay in step with the settings, and production settings pass
Django's deployment checks. No database needed."""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKER_COMPOSE = Path(sys.executable).parent / "docker-compose"

# Variables that would change what is checked, dropped so the developer's shell (or a CI
# run against PostgreSQL) cannot make these tests pass or fail by accident.
AMBIENT_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "SITE_URL", "DEFAULT_FROM_EMAIL")


def clean_environment(**overrides: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DJANGO_") and name not in AMBIENT_VARIABLES
    }
    env.update(overrides)
    return env


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if not DOCKER_COMPOSE.exists():
        pytest.fail(f"{DOCKER_COMPOSE} is missing: pip install -e '.[dev]' provides it.")
    # --env-file /dev/null: a developer's .env must not satisfy or break the checks.
    return subprocess.run(
        [str(DOCKER_COMPOSE), "--env-file", os.devnull, "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_environment_names() -> set[str]:
    """Names crm/settings.py reads: the first argument of env_*(), os.environ.get() and
    os.getenv(), and the key of os.environ[...]."""
    readers = {"os.environ.get", "os.getenv"}
    names = set()
    for node in ast.walk(ast.parse((ROOT / "crm" / "settings.py").read_text())):
        if isinstance(node, ast.Call) and node.args:
            function = ast.unparse(node.func)
            if function.startswith("env_") or function in readers:
                names.add(node.args[0])
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            names.add(node.slice)
    return {
        name.value
        for name in names
        if isinstance(name, ast.Constant) and isinstance(name.value, str)
    }


def test_compose_file_is_valid():
    result = compose("config", "--quiet", env=clean_environment(DJANGO_SECRET_KEY="x" * 60))
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_secret_key():
    result = compose("config", "--quiet", env=clean_environment())
    assert result.returncode != 0
    assert "set DJANGO_SECRET_KEY" in result.stderr


def test_every_compose_variable_is_read_by_settings():
    result = compose("config", "--no-interpolate", "--format", "json", env=clean_environment())
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    compose_names = set(config["x-environment"])

    unread = sorted(compose_names - settings_environment_names())

    assert unread == [], f"docker-compose.yml sets variables crm/settings.py never reads: {unread}"
    for service in ("web", "worker", "beat"):
        assert set(config["services"][service]["environment"]) == compose_names, service


def production_environment(**overrides: str) -> dict[str, str]:
    """What the README asks a production install to set."""
    env = clean_environment(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(45)[:60],
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        SITE_URL="https://crm.example.com",
        DEFAULT_FROM_EMAIL="crm@example.com",
    )
    env.update(overrides)
    return env


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_deploy_checks():
    env = production_environment()

    result = deploy_check(env)

    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_checks_fail_on_an_insecure_setting():
    """The check above would catch a regression: insecure cookies fail it."""
    env = production_environment(DJANGO_SECURE_COOKIES="false")

    result = deploy_check(env)

    assert result.returncode != 0
    assert "security.W012" in result.stderr + result.stdout  # SESSION_COOKIE_SECURE


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"SITE_URL": "http://crm.example.com"}, "crm.W001"),  # plain HTTP
        ({"SITE_URL": "https://crm.other.example"}, "crm.W002"),  # not an allowed host
        ({"DEFAULT_FROM_EMAIL": "CRM <crm@localhost>"}, "crm.W003"),
        ({"SITE_URL": ""}, "crm.W001"),  # unset: the development default
    ],
)
def test_deploy_checks_catch_mail_that_would_not_reach_people(overrides, check_id):
    env = production_environment(**overrides)
    env = {name: value for name, value in env.items() if value}

    result = deploy_check(env)

    assert result.returncode != 0
    assert check_id in result.stderr + result.stdout


def test_a_site_url_with_a_path_is_refused_at_start():
    """Links are SITE_URL + an absolute path; a path in SITE_URL would double or drop."""
    result = deploy_check(production_environment(SITE_URL="https://crm.example.com/crm"))

    assert result.returncode != 0
    assert "SITE_URL must be a scheme and host only" in result.stderr


def test_production_settings_keep_the_security_machinery():
    """Throttled sign-in, idle timeout, refusal logging and the CSRF failure view stay wired."""
    code = (
        "from django.conf import settings as s; "
        "print(s.AUTHENTICATION_BACKENDS, s.MIDDLEWARE, s.CSRF_FAILURE_VIEW, s.IDLE_TIMEOUT_MINUTES,"
        " s.SESSION_COOKIE_AGE, s.SESSION_ENGINE, s.LOGGING['loggers']['crm.security'])"
    )
    env = clean_environment(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(45)[:60], DJANGO_ALLOWED_HOSTS="crm.example.com"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "accounts.backends.ThrottledModelBackend" in out
    assert "accounts.middleware.IdleTimeoutMiddleware" in out
    assert "accounts.middleware.RefusalLogMiddleware" in out
    assert "accounts.views.auth.csrf_failure" in out
    assert " 480 28800 django.contrib.sessions.backends.cached_db " in out
