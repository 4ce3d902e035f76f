"""Shared fixtures: the four personas of the house style (alice, bob, carol, admin) and a small board.

alice: salesperson, team A · bob: manager, team A · carol: salesperson, team B · admin.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test.utils import override_settings

from accounts.models import Role
from tests.factories import (
    MembershipFactory,
    PipelineFactory,
    StageFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture(autouse=True, scope="session")
def _test_settings():
    """Plain HTTP on localhost, fast password hashing, no static manifest, a cache of the
    run's own. Session-scoped and applied to the settings object itself so the live server's
    middleware, built once, sees it too."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.READ_REPLICA = None  # on only where a test asks (see django_db_modify_db_settings)
    # The translations as the catalogues say now: `make test` compiles them too, but a plain
    # `pytest` after a catalogue changed would otherwise run with the old .mo files.
    from crm.devtools.messages import compile_all

    compile_all()
    folder = _use_test_cache()
    yield
    clear_test_cache()
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def _use_test_cache() -> str | None:
    """The suite's own cache, never the developer's: the configured Redis (CI sets REDIS_URL)
    under a key prefix of this run alone, so parallel runs on one Redis cannot see each other's
    keys; or, embedded, files in a folder of this run. Returns that folder. Applied through
    override_settings so Django's cache handlers are rebuilt with it."""
    default = settings.CACHES["default"]
    if default["BACKEND"] == "crm.shared.RedisCache":
        test_cache = {**default, "KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}"}
        folder = None
    else:
        (settings.BASE_DIR / "var").mkdir(exist_ok=True)
        folder = tempfile.mkdtemp(prefix="test-cache-", dir=settings.BASE_DIR / "var")
        test_cache = {**default, "LOCATION": folder}
    override_settings(CACHES={"default": test_cache}).enable()
    # Processes the suite starts (a Celery worker, gunicorn for the benchmarks and the
    # two-node test) share it too, rather than the developer's or another run's keys.
    os.environ["CACHE_URL"] = (
        test_cache["LOCATION"] if folder is None else f"file://{test_cache['LOCATION']}"
    )
    os.environ["CACHE_KEY_PREFIX"] = test_cache["KEY_PREFIX"]
    return folder


def clear_test_cache() -> None:
    """Empty this run's part of the cache: on Redis only the keys under the run's prefix
    (FLUSHDB would empty other runs' keys and the broker's queues if they share the database)."""
    test_cache = settings.CACHES["default"]
    if test_cache["BACKEND"] == "crm.shared.RedisCache":
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{test_cache['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: no figures, sessions or versions of another."""
    clear_test_cache()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite, a test database in a file rather than in memory. Django shares an in-memory
    database's one connection between the test and the live server's threads, and a page that
    fires several requests at once (the forecast's panels) can then lock up; with a file each
    thread has its own connection and SQLite's own locking, as in production."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(settings.BASE_DIR / "var" / "test-db.sqlite3")
    # A read replica that is the test database itself (a mirror), for the tests of which pages
    # read from it (tests/crm/test_replica.py). Reads go there only where a test turns
    # READ_REPLICA on: the other tests run inside one transaction the replica cannot see.
    if "replica" not in settings.DATABASES:
        replica = copy.deepcopy(db)
        replica["TEST"] = {**replica.get("TEST", {}), "MIRROR": "default", "NAME": None}
        settings.DATABASES["replica"] = replica


@pytest.fixture(autouse=True)
def _fresh_exchange_rates(_fresh_cache):
    """Each test reads the exchange rates its own database holds."""
    from pipeline.money import rates_changed

    rates_changed()
    yield
    rates_changed()


@pytest.fixture(autouse=True)
def _fresh_broker_circuit():
    """A broker outage one test provoked is not remembered into the next (crm.broker)."""
    from crm.broker import broker_outage_forget

    broker_outage_forget()
    yield
    broker_outage_forget()


@pytest.fixture(autouse=True)
def _fresh_organisation(request, _fresh_cache):
    """Each test reads the organisation row its own database holds, read before the test
    starts, as a running server has it cached: pinned query counts do not include it."""
    from crm.organisation import organisation_changed, organisation_get

    organisation_changed()
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            organisation_get()
            break
    yield
    organisation_changed()


@pytest.fixture(autouse=True)
def _webhook_subscribers_read(request, _fresh_organisation):
    """Each test reads the webhook endpoints its own database holds, read before the test
    starts, as a running server keeps them in memory: pinned query counts do not include
    that read (no endpoint: no query at all when a deal changes)."""
    from webhooks.services.events import subscribers_forget, subscribers_get

    subscribers_forget()
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        subscribers_get()
    yield
    subscribers_forget()


@pytest.fixture(autouse=True)
def _setup_done():
    """Tests run against an installed CRM: the first-run set-up counts as done (without a
    query, so pinned query counts are as in production), whatever users the test makes.
    `empty_install` starts from an install nobody has set up."""
    from crm.selectors.setup import setup_status_assume_done

    setup_status_assume_done()
    yield
    setup_status_assume_done()


@pytest.fixture
def empty_install(_setup_done, db):
    """An install nobody has set up: the set-up phase is read from the database again, and
    each web process's one-time log line of the set-up link is not written yet."""
    from crm.selectors.setup import setup_status_forget
    from crm.services import setup

    setup_status_forget()
    setup._announced = False
    yield
    setup._announced = False


def is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


requires_postgres = pytest.mark.skipif(
    not is_postgres(),
    reason="needs PostgreSQL (row locks and real concurrency); SQLite serialises writers",
)


@pytest.fixture
def team_a(db):
    return TeamFactory(name="Team A")


@pytest.fixture
def team_b(db):
    return TeamFactory(name="Team B")


@pytest.fixture
def alice(team_a):
    user = UserFactory(username="alice", first_name="Alice", last_name="Andersen")
    MembershipFactory(user=user, team=team_a, role=Role.SALESPERSON)
    return user


@pytest.fixture
def bob(team_a):
    user = UserFactory(username="bob", first_name="Bob", last_name="Berg")
    MembershipFactory(user=user, team=team_a, role=Role.MANAGER)
    return user


@pytest.fixture
def alex(team_a):
    """A second salesperson in team A: sees alice's deals, may not change them."""
    user = UserFactory(username="alex", first_name="Alex", last_name="Aune")
    MembershipFactory(user=user, team=team_a, role=Role.SALESPERSON)
    return user


@pytest.fixture
def carol(team_b):
    user = UserFactory(username="carol", first_name="Carol", last_name="Carlsen")
    MembershipFactory(user=user, team=team_b, role=Role.SALESPERSON)
    return user


@pytest.fixture
def admin(team_a):
    user = UserFactory(username="admin", first_name="Ada", last_name="Admin")
    MembershipFactory(user=user, team=team_a, role=Role.ADMIN)
    return user


@pytest.fixture
def pipeline_a(team_a):
    return PipelineFactory(team=team_a, name="New business")


@pytest.fixture
def stages_a(pipeline_a):
    names = [("Lead in", 10), ("Qualified", 25), ("Proposal", 50), ("Negotiation", 75)]
    return [
        StageFactory(pipeline=pipeline_a, name=name, position=i, probability=p)
        for i, (name, p) in enumerate(names)
    ]


@pytest.fixture
def pipeline_b(team_b):
    return PipelineFactory(team=team_b, name="South business")


@pytest.fixture
def stages_b(pipeline_b):
    return [
        StageFactory(pipeline=pipeline_b, name=name, position=i)
        for i, name in enumerate(["Lead", "Offer"])
    ]
