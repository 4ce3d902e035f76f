"""Delivery: at least once, retried with backoff, exactly one success per event for a
receiver that fails at first; a broker outage delays and loses nothing; repeated failure
switches the endpoint off and tells the admins."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from crm.broker import broker_outage_forget
from crm.celery import app
from pipeline import services
from tests.conftest import requires_postgres
from tests.factories import DealFactory
from tests.test_celery import broker_down
from webhooks import tasks
from webhooks.models import DeliveryStatus, OutboxEvent, WebhookDelivery
from webhooks.services.deliveries import (
    _claim,
    backoff,
    deliveries_due,
    delivery_attempt,
    event_deliver,
    lease_seconds,
    outbox_prune,
)
from webhooks.services.endpoints import delivery_resend, endpoint_set_active

HTMX = {"HTTP_HX_REQUEST": "true"}


def _moves(alice, stages, count: int) -> list:
    deals = [DealFactory(stage=stages[0], owner=alice, title=f"Deal {i}") for i in range(count)]
    for deal in deals:
        services.deal_move(
            acting_user=alice, deal=deal, stage_id=stages[1].pk, version=deal.version
        )
    return deals


def run_until_settled(*, start, hours: float = 30, step_minutes: int = 1) -> int:
    """Play the sweep forward in time (no waiting): each step sends what is due then.
    Returns how many attempts were made."""
    attempts = 0
    now = start
    while now <= start + timedelta(hours=hours):
        for delivery_id in deliveries_due(now=now):
            if delivery_attempt(delivery_id=delivery_id, now=now) is not None:
                attempts += 1
        if not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists():
            break
        now += timedelta(minutes=step_minutes)
    return attempts


@contextmanager
def tasks_run_here():
    """Celery runs each queued task at once in this process (a worker, without one)."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


@pytest.mark.django_db
def test_a_receiver_failing_twice_gets_exactly_one_success_of_each_event(
    endpoint, receiver, alice, stages_a
):
    receiver.answer = lambda n: (503, b"busy", {}) if n <= 2 else (200, b"thanks", {})
    _moves(alice, stages_a, 3)
    events = set(map(str, OutboxEvent.objects.values_list("id", flat=True)))
    assert len(events) == 3

    attempts = run_until_settled(start=timezone.now())

    assert attempts == 5  # two failures, then each of the three events once
    delivered = receiver.delivered_ids()
    assert sorted(delivered) == sorted(events)  # each event, exactly once, successfully
    rows = list(WebhookDelivery.objects.all())
    assert {row.status for row in rows} == {DeliveryStatus.DELIVERED}
    assert sum(row.attempts for row in rows) == 5
    retried = [row for row in rows if row.attempts > 1]
    assert retried and all(row.response_code == 200 for row in rows)
    endpoint.refresh_from_db()
    assert endpoint.failure_count == 0 and endpoint.disabled_at is None


@pytest.mark.django_db
def test_retries_back_off_exponentially_and_give_up_after_24_hours(
    endpoint, receiver, alice, stages_a
):
    receiver.answer = lambda n: (500, b"x" * 5000, {})
    with override_settings(WEBHOOKS_DISABLE_AFTER_FAILURES=1000):
        _moves(alice, stages_a, 1)
        [delivery] = WebhookDelivery.objects.all()
        start = delivery.created_at
        attempts = run_until_settled(start=start, hours=25)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.last_attempt_at >= delivery.give_up_at == start + timedelta(hours=24)
    # 30 s, 1, 2, 4 ... min: twelve doublings pass 24 h, and a last try at the deadline.
    assert backoff(1) == timedelta(seconds=30) and backoff(4) == timedelta(minutes=4)
    assert 10 <= attempts <= 14
    assert attempts == len(receiver.received) == delivery.attempts
    assert len(delivery.response_excerpt) == 1024  # only the start of a 5 KB answer is kept


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_an_attempt_claims_its_delivery_so_two_workers_send_once(
    endpoint, receiver, alice, stages_a
):
    _moves(alice, stages_a, 1)
    [delivery] = WebhookDelivery.objects.all()
    now = timezone.now()
    results = []
    start = threading.Barrier(2)

    def worker():
        start.wait()
        try:
            results.append(delivery_attempt(delivery_id=delivery.pk, now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receiver.received) == 1
    assert sum(result is not None for result in results) == 1
    # Delivered: a redelivered message sends nothing.
    assert event_deliver(event_id=str(delivery.event_id)) == []
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_broker_down_while_deals_move_then_up_every_event_delivered(
    client, endpoint, receiver, alice, stages_a, django_capture_on_commit_callbacks
):
    deals = [DealFactory(stage=stages_a[0], owner=alice, title=f"D{i}") for i in range(4)]
    client.force_login(alice)
    with broker_down(), django_capture_on_commit_callbacks(execute=True) as callbacks:
        for deal in deals:
            response = client.post(
                reverse("deal-move", args=[deal.pk]),
                {"stage": stages_a[1].pk, "version": deal.version},
                **HTMX,
            )
            assert response.status_code == 200  # the move stands; the enqueue failed quietly
    assert len(callbacks) >= 4
    events = set(map(str, OutboxEvent.objects.values_list("id", flat=True)))
    assert len(events) == 4
    assert not receiver.received
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("pending", 0)}

    # The broker is back (and this process stops skipping it): the periodic sweep hands every
    # waiting delivery to a worker.
    broker_outage_forget()
    with tasks_run_here():
        result = tasks.deliveries_sweep.delay().get()
    assert result == {"queued": 4, "sent_here": 0}
    assert sorted(receiver.delivered_ids()) == sorted(events)
    assert not WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()


@pytest.mark.django_db
def test_a_sweep_while_the_broker_is_still_down_sends_in_its_own_process(
    endpoint, receiver, alice, stages_a
):
    _moves(alice, stages_a, 2)
    with broker_down():
        result = tasks.deliveries_sweep()
    assert result == {"queued": 0, "sent_here": 2}
    assert len(receiver.delivered_ids()) == 2


@pytest.mark.django_db
def test_after_commit_the_event_is_queued_and_sent(
    endpoint, receiver, alice, stages_a, django_capture_on_commit_callbacks
):
    with tasks_run_here(), django_capture_on_commit_callbacks(execute=True):
        _moves(alice, stages_a, 1)
    [request] = receiver.received
    assert request.payload["type"] == "deal.moved"
    assert request.headers["CRM-Event-Type"] == "deal.moved"
    assert request.headers["CRM-Delivery-Attempt"] == "1"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_repeated_failure_switches_the_endpoint_off_and_mails_the_admins(
    endpoint, receiver, admin, alice, stages_a, django_capture_on_commit_callbacks
):
    admin.email = "ada@nordlys.example"
    admin.save()
    receiver.answer = lambda n: (500, b"down", {})
    with override_settings(WEBHOOKS_DISABLE_AFTER_FAILURES=3):
        _moves(alice, stages_a, 2)
        with tasks_run_here(), django_capture_on_commit_callbacks(execute=True):
            run_until_settled(start=timezone.now(), hours=1)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None and endpoint.failure_count == 3
    assert len(receiver.received) == 3  # nothing more once it is off
    [message] = mail.outbox
    assert message.to == ["ada@nordlys.example"]
    assert endpoint.url in message.body
    # Changes go on being recorded? No: an endpoint that is off hears nothing new...
    _moves(alice, stages_a, 1)
    assert WebhookDelivery.objects.count() == 2
    # ...and what waited is sent once it is back on.
    receiver.answer = lambda n: (200, b"ok", {})
    endpoint_set_active(acting_user=admin, endpoint=endpoint, active=True)
    run_until_settled(start=timezone.now(), hours=1)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2


@pytest.mark.django_db
def test_a_claimed_delivery_is_held_from_others_until_its_lease_runs_out(
    endpoint, receiver, alice, stages_a
):
    """An attempt in flight holds its delivery; a worker that died mid-attempt leaves it to
    the sweep once the lease has run out."""
    _moves(alice, stages_a, 1)
    [delivery] = WebhookDelivery.objects.all()
    now = timezone.now()
    assert _claim(delivery.pk, now)  # a worker takes it... and dies
    assert not _claim(delivery.pk, now)
    assert deliveries_due(now=now) == []
    assert delivery_attempt(delivery_id=delivery.pk, now=now) is None
    later = now + timedelta(seconds=lease_seconds() + 1)
    assert deliveries_due(now=later) == [delivery.pk]
    assert delivery_attempt(delivery_id=delivery.pk, now=later).delivered
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_send_again_delivers_the_same_event_id_again(endpoint, receiver, admin, alice, stages_a):
    _moves(alice, stages_a, 1)
    run_until_settled(start=timezone.now())
    [delivery] = WebhookDelivery.objects.all()
    delivery_resend(acting_user=admin, delivery=delivery)
    run_until_settled(start=timezone.now())
    first, second = receiver.received
    assert first.payload["id"] == second.payload["id"] == str(delivery.event_id)
    assert second.headers["CRM-Delivery-Attempt"] == "2"


@pytest.mark.django_db
def test_a_redirect_is_not_followed(endpoint, receiver, alice, stages_a):
    receiver.answer = lambda n: (302, b"", {"Location": "http://169.254.169.254/"})
    _moves(alice, stages_a, 1)
    [delivery] = WebhookDelivery.objects.all()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert len(receiver.received) == 1
    assert delivery.status == DeliveryStatus.PENDING and delivery.response_code == 302
    assert "Redirect" in delivery.error


@pytest.mark.django_db
def test_a_receiver_that_does_not_answer_times_out(endpoint, receiver, alice, stages_a):
    released = threading.Event()

    def hang(n):
        released.wait(10)
        return (200, b"late", {})

    receiver.answer = hang
    _moves(alice, stages_a, 1)
    [delivery] = WebhookDelivery.objects.all()
    try:
        with override_settings(WEBHOOKS_READ_TIMEOUT_SECONDS=0.3):
            delivery_attempt(delivery_id=delivery.pk)
    finally:
        released.set()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.response_code is None
    assert "timed out" in delivery.error.lower()
    assert delivery.duration_ms < 3000


@pytest.mark.django_db
def test_in_a_request_the_publish_waits_until_the_answer_is_sent(rf):
    """The drag does not wait for the broker: a publish asked for while the view runs (its
    after-commit hooks included) is made when the WSGI server closes the sent response."""
    from django.http import HttpResponse

    from crm.broker import EnqueueAfterResponseMiddleware, enqueue_after_response

    def view(request):
        enqueue_after_response("webhooks.event_deliver", "some-event")
        return HttpResponse("moved")

    with mock.patch("crm.broker.enqueue") as publish:
        response = EnqueueAfterResponseMiddleware(view)(rf.post("/deals/1/move/"))
        publish.assert_not_called()
        response.close()
        publish.assert_called_once_with("webhooks.event_deliver", "some-event")
        # Outside a request (a task, a command) it publishes at once.
        enqueue_after_response("webhooks.event_deliver", "other")
        assert publish.call_count == 2


@pytest.mark.django_db
def test_the_prune_forgets_old_done_deliveries_and_orphans_but_keeps_pending_ones(
    endpoint, receiver, admin, alice, stages_a
):
    receiver.answer = lambda n: (200, b"ok", {}) if n == 1 else (500, b"no", {})
    _moves(alice, stages_a, 2)
    first, second = WebhookDelivery.objects.order_by("pk")
    delivery_attempt(delivery_id=first.pk)
    delivery_attempt(delivery_id=second.pk)
    assert WebhookDelivery.objects.get(pk=second.pk).status == DeliveryStatus.PENDING
    # A delivery recorded for an endpoint another process had just deleted.
    WebhookDelivery.objects.create(
        endpoint_id=999_999,
        event_id=first.event_id,
        next_attempt_at=timezone.now(),
        give_up_at=timezone.now(),
    )
    assert 999_999 not in [
        WebhookDelivery.objects.get(pk=pk).endpoint_id for pk in deliveries_due()
    ]  # never sent

    later = timezone.now() + timedelta(days=31)
    assert outbox_prune(now=later) == 3  # the old delivered one, its event, the orphan
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [second.pk]
    assert list(OutboxEvent.objects.values_list("id", flat=True)) == [second.event_id]
    assert outbox_prune(now=later) == 0


@pytest.mark.django_db
def test_the_switched_off_notice_goes_to_each_admin_in_their_own_language(endpoint, admin, team_a):
    from django.utils import translation

    from tests.factories import MembershipFactory, UserFactory
    from webhooks.models import WebhookEndpoint
    from webhooks.services.deliveries import endpoint_disabled_notify

    admin.email, admin.language = "ada@nordlys.example", "de"
    admin.save()
    other = UserFactory(username="bo", email="bo@nordlys.example", language="da")
    MembershipFactory(user=other, team=team_a, role="admin")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now())
    assert endpoint_disabled_notify(endpoint_id=endpoint.pk) == 2
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    for address, language in (("ada@nordlys.example", "de"), ("bo@nordlys.example", "da")):
        with translation.override(language):
            expected = translation.gettext("A webhook endpoint was switched off")
        assert expected != "A webhook endpoint was switched off"
        assert subjects[address] == expected


@pytest.mark.django_db
def test_the_log_says_why_in_the_organisations_language(endpoint, receiver, alice, stages_a):
    from django.utils import translation

    from crm.models import Organisation
    from crm.organisation import organisation_changed

    Organisation.objects.filter(pk=1).update(language="sv")
    organisation_changed()
    receiver.answer = lambda n: (302, b"", {"Location": "https://elsewhere.example/"})
    _moves(alice, stages_a, 1)
    run_until_settled(start=timezone.now(), hours=0.05)
    delivery = WebhookDelivery.objects.get()
    with translation.override("sv"):
        expected = translation.gettext("Redirects are not followed.")
    assert expected != "Redirects are not followed."
    assert delivery.response_code == 302 and delivery.error == expected
