"""What a user sees when the database loses a race or goes away, and how the app recovers.

The retry is tested with errors that carry PostgreSQL's SQLSTATE (what psycopg raises); the
faults with real terminated connections (`pg_terminate_backend`) on PostgreSQL.
"""

from __future__ import annotations

from unittest import mock

import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import cached_db
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, close_old_connections, connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse

from crm.transactions import TryAgain, atomic_with_retry, is_database_unavailable, is_transient
from pipeline.models import Deal, StageChange
from tests.conftest import requires_postgres
from tests.factories import DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


class FakeDatabaseError(Exception):
    def __init__(self, sqlstate):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def database_error(sqlstate: str | None) -> OperationalError:
    """An OperationalError as Django raises it: psycopg's error as its cause."""
    error = OperationalError("simulated")
    error.__cause__ = FakeDatabaseError(sqlstate)
    return error


# --- the retry ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_victim_is_run_once_more_and_succeeds():
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        if len(calls) == 1:
            raise database_error("40P01")
        return "done"

    assert work() == "done"
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_two_failures_in_a_row_are_try_again(sqlstate):
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        raise database_error(sqlstate)

    with pytest.raises(TryAgain):
        work()
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried():
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        raise database_error("08006")  # connection failure

    with pytest.raises(OperationalError):
        work()
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_another_transaction_only_the_owner_may_retry():
    calls = []

    @atomic_with_retry
    def work():
        calls.append(1)
        raise database_error("40P01")

    with pytest.raises(OperationalError), transaction.atomic():
        work()
    assert len(calls) == 1


def test_errors_are_told_apart():
    assert is_transient(database_error("40P01")) and is_transient(database_error("40001"))
    assert not is_transient(database_error("08006"))
    assert is_database_unavailable(database_error("08006"))
    assert is_database_unavailable(database_error(None))
    assert not is_database_unavailable(database_error("40P01"))
    assert not is_database_unavailable(ValueError("x"))


@pytest.mark.django_db(transaction=True)
def test_a_drag_that_loses_twice_is_refused_with_409_and_nothing_changes(client, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    with mock.patch(
        "pipeline.services.deals._position_from_lock", side_effect=database_error("40P01")
    ) as position:
        response = client.post(
            reverse("deal-move", args=[deal.pk]),
            {"stage": stages_a[1].pk, "version": 1},
            **HTMX,
        )
    assert position.call_count == 2
    assert response.status_code == 409
    assert "try again" in response.content.decode().lower()
    assert response["HX-Retarget"] == "#toasts"
    deal.refresh_from_db()
    assert deal.stage_id == stages_a[0].pk and deal.version == 1
    assert not StageChange.objects.filter(deal=deal).exists()


@pytest.mark.django_db
def test_a_transient_error_inside_an_outer_transaction_is_409_not_500(client, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    with mock.patch(
        "pipeline.services.deals._position_from_lock", side_effect=database_error("40001")
    ):
        response = client.post(
            reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk, "version": 1}
        )
    assert response.status_code == 409
    deal.refresh_from_db()
    assert deal.stage_id == stages_a[0].pk


@pytest.mark.django_db
def test_a_database_that_went_away_is_a_quick_503_page(client, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    with mock.patch(
        "pipeline.services.deals._position_from_lock", side_effect=database_error("08006")
    ):
        page = client.post(
            reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk, "version": 1}
        )
        toast = client.post(
            reverse("deal-move", args=[deal.pk]),
            {"stage": stages_a[1].pk, "version": 1},
            **HTMX,
        )
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert "try again in a moment" in page.content.decode().lower()
    assert "Traceback" not in page.content.decode()
    assert toast.status_code == 503 and toast["HX-Retarget"] == "#toasts"
    deal.refresh_from_db()
    assert deal.stage_id == stages_a[0].pk


@pytest.mark.django_db
def test_a_database_error_before_the_view_is_a_503_too(client, alice):
    client.force_login(alice)
    client.raise_request_exception = False
    # Not in the shared cache (evicted, or a node whose cache just restarted): the session
    # row is read from the database, which is down.
    cache.delete(cached_db.KEY_PREFIX + client.session.session_key)
    with mock.patch(
        "django.contrib.sessions.backends.db.SessionStore._get_session_from_db",
        side_effect=database_error("08001"),
    ):
        response = client.get(reverse("home"))
    assert response.status_code == 503
    assert "try again in a moment" in response.content.decode().lower()


# --- real terminated connections (PostgreSQL) ----------------------------------------------


def _terminate(pid: int) -> None:
    """Kill a backend from another connection, as a database restart or an admin would."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _wsgi_get(path: str, cookies) -> int:
    """A request through the real WSGI handler (the test client skips the connection checks a
    server makes at the start and end of every request)."""
    environ = RequestFactory().get(path).environ
    environ["HTTP_COOKIE"] = "; ".join(f"{k}={v.value}" for k, v in cookies.items())
    environ["HTTP_HOST"] = "testserver"
    status = []
    response = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    b"".join(response)
    response.close()  # sends request_finished, as a server does
    return int(status[0].split()[0])


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_between_two_requests_is_replaced_without_an_error(
    alice, stages_a, settings
):
    settings.ALLOWED_HOSTS = ["testserver"]
    DealFactory(stage=stages_a[0], owner=alice)
    client = Client()
    client.force_login(alice)
    board = reverse("board", args=[stages_a[0].pipeline_id])
    assert _wsgi_get(board, client.cookies) == 200
    pid = connection.connection.info.backend_pid
    _terminate(pid)
    assert _wsgi_get(board, client.cookies) == 200
    assert connection.connection.info.backend_pid != pid
    connection.close()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_during_a_drag_is_503_nothing_half_written_then_recovers(
    alice, stages_a, settings
):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client = Client()
    client.force_login(alice)

    def kill_before_the_deal_is_written(execute, sql, params, many, context):
        if sql.startswith('UPDATE "pipeline_deal"'):
            _terminate(context["connection"].connection.info.backend_pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(kill_before_the_deal_is_written):
        response = client.post(
            reverse("deal-move", args=[deal.pk]),
            {"stage": stages_a[1].pk, "version": 1},
            **HTMX,
        )
    assert response.status_code == 503
    close_old_connections()  # the server's end of the request: the dead connection goes
    connection.close()
    deal.refresh_from_db()
    assert deal.stage_id == stages_a[0].pk and deal.version == 1
    assert not StageChange.objects.filter(deal=deal).exists()
    again = client.post(
        reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk, "version": 1}, **HTMX
    )
    assert again.status_code == 200
    assert Deal.objects.get(pk=deal.pk).stage_id == stages_a[1].pk


# --- every rule's refusal, answered in one place ---------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False])
def test_a_rule_refusal_no_view_showed_is_the_usual_400_refusal(rf, htmx):
    from accounts.services import UserRuleError
    from crm.middleware import RefusalMiddleware
    from crm.rules import RuleError
    from crm.services import CrmRuleError
    from crm.services.organisation import OrganisationRuleError
    from crm.services.tiers import TierRuleError
    from pipeline.services import DealRuleError, ExitCriteriaInvalid, SettingsError

    request = rf.post("/anything/")
    request.htmx = htmx
    request.user = AnonymousUser()
    middleware = RefusalMiddleware(lambda r: None)
    for error in (
        CrmRuleError("No such thing."),
        UserRuleError("No such thing."),
        OrganisationRuleError("No such thing."),
        TierRuleError("No such thing."),
        DealRuleError("No such thing."),
        SettingsError("No such thing."),
    ):
        assert isinstance(error, RuleError)
        response = middleware.process_exception(request, error)
        assert response.status_code == 400
        assert "No such thing." in response.content.decode()
        assert (response.get("HX-Retarget") == "#toasts") is htmx
    assert middleware.process_exception(request, ExitCriteriaInvalid()).status_code == 400
    assert middleware.process_exception(request, TryAgain()).status_code == 409
    assert middleware.process_exception(request, ValueError("x")) is None
