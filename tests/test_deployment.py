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
AMBIENT_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "CACHE_URL",
    "CACHE_KEY_PREFIX",
    "SITE_URL",
    "DEFAULT_FROM_EMAIL",
)


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


def compose_config() -> dict:
    result = compose("config", "--format", "json", env=clean_environment(DJANGO_SECRET_KEY="x"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_shows_the_scaled_shape():
    """One published port (the balancer), web replicated behind it, migrations run once before
    anything starts, exactly one beat, and every app service on the shared Redis cache."""
    services = compose_config()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert int(services["web"]["deploy"]["replicas"]) >= 2
    assert "migrate" not in " ".join(services["web"]["command"])
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "deploy" not in services["beat"]
    assert (ROOT / "deploy" / "nginx.conf").is_file()


def settings_with(code: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = clean_environment(DJANGO_SECRET_KEY="x" * 60, **environment)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "crm.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


CACHE_SETTING = (
    "from django.conf import settings as s; c = s.CACHES['default']; "
    "print(c['BACKEND'], c['LOCATION'], c['KEY_PREFIX'])"
)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, f"django.core.cache.backends.filebased.FileBasedCache {ROOT / 'var' / 'cache'} crm"),
        ({"REDIS_URL": "redis://cache:6379/1"}, "crm.shared.RedisCache redis://cache:6379/1 crm"),
        (
            {"CACHE_URL": "file:///srv/crm-cache", "CACHE_KEY_PREFIX": "eu"},
            "django.core.cache.backends.filebased.FileBasedCache /srv/crm-cache eu",
        ),
    ],
)
def test_the_cache_is_shared_by_every_process(environment, expected):
    """Redis from the environment, else files every local process reads: never a cache in
    one process's memory."""
    result = settings_with(CACHE_SETTING, **environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("url", ["locmem://", "memcached://cache:11211", "file://relative"])
def test_a_cache_url_that_is_not_shared_is_refused_at_start(url):
    result = settings_with(CACHE_SETTING, CACHE_URL=url)
    assert result.returncode != 0
    assert "CACHE_URL" in result.stderr


def test_a_replica_url_adds_the_replica_for_the_report_pages():
    code = (
        "from django.conf import settings as s; "
        "print(s.READ_REPLICA, s.DATABASES['replica']['HOST'], s.DATABASE_ROUTERS)"
    )
    result = settings_with(
        code,
        DATABASE_URL="postgres://crm@primary:5432/crm",
        DATABASE_REPLICA_URL="postgres://crm@replica:5432/crm",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "replica replica ['crm.replica.ReplicaRouter']"
    without = settings_with("from django.conf import settings as s; print(s.READ_REPLICA)")
    assert without.stdout.strip() == "None"


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
