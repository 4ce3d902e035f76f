"""Shared fixtures: the four personas of the house style (alice, bob, carol, admin) and a small board.

alice: salesperson, team A · bob: manager, team A · carol: salesperson, team B · admin.
"""

from __future__ import annotations

import pytest
from django.conf import settings

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
    """Plain HTTP on localhost, fast password hashing, no static manifest. Session-scoped and
    applied to the settings object itself so the live server's middleware, built once, sees
    it too."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite, a test database in a file rather than in memory. Django shares an in-memory
    database's one connection between the test and the live server's threads, and a page that
    fires several requests at once (the forecast's panels) can then lock up; with a file each
    thread has its own connection and SQLite's own locking, as in production."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(settings.BASE_DIR / "var" / "test-db.sqlite3")


@pytest.fixture(autouse=True)
def _fresh_exchange_rates():
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
def _fresh_organisation(request):
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
