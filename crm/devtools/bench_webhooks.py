"""Benchmark what recording a webhook event adds to a move (docs/performance.md: under 2 ms).

    python manage.py bench_webhooks [--rounds 21] [--moves 10]
                                    [--json bench-results/bench_webhooks.json]

Builds (and reuses) team "Bench webhooks" with one salesperson, a two-stage pipeline and
`--moves` deals. Each round times `--moves` drags (the board's htmx POST to `deal-move`
through the whole middleware stack in this process) until their answer is ready, which is
what the person waits for; what runs when the WSGI server closes the sent answer (the
webhook's publish) is timed apart. Three ways: with no endpoint listening; with one endpoint
subscribed to every event but the publish skipped as in a broker outage (what *recording*
the event costs: the outbox rows in the move's transaction); and with the publish to the
configured broker too. The order rotates between rounds, so every side sees the same
machine load; the first moves after switching (the process reads the endpoints again) are
not timed. It reports the p50s, what recording and publishing add to the answer (the median
of paired differences), the outbox write itself beside a database round trip, and the SQL
statements of each move. The events it recorded are deleted afterwards; the messages it
queued find nothing to send.
"""

from __future__ import annotations

import json
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.signals import request_finished
from django.db import close_old_connections, connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from accounts.models import Membership, Role, Team, User
from crm import broker
from crm.broker import broker_outage_forget
from crm.devtools.bench_http import timing_summary
from pipeline.models import Deal, Pipeline, Stage
from pipeline.services import deal_create
from webhooks.models import EventType, OutboxEvent, WebhookEndpoint
from webhooks.services import events
from webhooks.services.endpoints import endpoint_create, endpoint_set_active

TEAM_NAME = "Bench webhooks"
USERNAME = "bench_webhooks"
ADMIN_USERNAME = "bench_webhooks_admin"
ENDPOINT_URL = "https://hooks.bench.invalid/crm"
TARGET_MS = 2.0


@dataclass
class Fixture:
    user: User
    admin: User
    stages: list[Stage]
    deals: list[int]
    endpoint: WebhookEndpoint


def _user(username: str) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": "Bench", "last_name": "Webhooks"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def build_fixture(*, deals: int) -> Fixture:
    team, _ = Team.objects.get_or_create(name=TEAM_NAME)
    user = _user(USERNAME)
    admin = _user(ADMIN_USERNAME)
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": Role.SALESPERSON})
    Membership.objects.get_or_create(user=admin, team=team, defaults={"role": Role.ADMIN})
    pipeline, _ = Pipeline.objects.get_or_create(
        team=team, name="Bench webhooks pipeline", defaults={"position": 4000}
    )
    stages = [
        Stage.objects.get_or_create(
            pipeline=pipeline, name=name, defaults={"position": i, "probability": 10 + 40 * i}
        )[0]
        for i, name in enumerate(["Bench in", "Bench out"])
    ]
    existing = list(Deal.objects.filter(pipeline=pipeline).values_list("pk", flat=True))
    for i in range(len(existing), deals):
        existing.append(
            deal_create(acting_user=user, stage=stages[0], title=f"Bench webhook {i}").pk
        )
    endpoint = WebhookEndpoint.objects.filter(url=ENDPOINT_URL).first()
    if endpoint is None:
        # A name that never resolves: accepted on save, never sent to.
        endpoint, _ = endpoint_create(acting_user=admin, url=ENDPOINT_URL, events=EventType.values)
    return Fixture(user, admin, stages, existing[:deals], endpoint)


def _listening(fixture: Fixture, on: bool) -> None:
    endpoint_set_active(acting_user=fixture.admin, endpoint=fixture.endpoint, active=on)


@contextmanager
def _publishing(on: bool):
    """Off: the process behaves as during a broker outage (crm.broker skips the publish at
    once), which isolates what recording costs from what publishing costs."""
    if on:
        yield
        return
    with override_settings(BROKER_OUTAGE_SECONDS=3600):
        broker._circuit.failed(time.monotonic())
        try:
            yield
        finally:
            broker_outage_forget()


class _Browser:
    """The user's drags through the whole middleware stack, as a WSGI server runs them: the
    time until the answer is ready (what the person waits for) and the time of closing it
    (work done after the answer is sent: the webhook's publish)."""

    def __init__(self, user: User):
        client = Client()
        client.force_login(user)
        self.factory = RequestFactory()
        self.factory.cookies = client.cookies
        self.handler = BaseHandler()
        self.handler.load_middleware()

    def post(self, url: str, data: dict) -> tuple[float, float]:
        request = self.factory.post(url, data, HTTP_HX_REQUEST="true")
        request._dont_enforce_csrf_checks = True
        started = time.perf_counter()
        response = self.handler.get_response(request)
        answered = time.perf_counter()
        # As Django's test client does: keep the connection across requests.
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)
        closed = time.perf_counter()
        if response.status_code != 200:
            raise RuntimeError(f"move answered {response.status_code}: {response.content[:200]!r}")
        return (answered - started) * 1000, (closed - answered) * 1000


def _move(browser: _Browser, deal_id: int, stages: list[Stage]) -> tuple[float, float]:
    """Move the deal to the other stage; (ms until the answer, ms after it)."""
    stage_id, version = Deal.objects.values_list("stage_id", "version").get(pk=deal_id)
    target = stages[1] if stage_id == stages[0].pk else stages[0]
    url = reverse("deal-move", args=[deal_id])
    return browser.post(url, {"stage": target.pk, "version": version})


def _statements(browser: _Browser, deal_id: int, stages: list[Stage]) -> int:
    """The SQL statements of one (untimed) move: recording them slows every query down."""
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        _move(browser, deal_id, stages)
    return len(queries.captured_queries)


@contextmanager
def _timing_the_write(times: list[float]):
    """Time the outbox write itself (`events._write`: the INSERT of the event and its
    deliveries, and the after-commit hook) inside the real moves."""
    original = events._write

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    events._write = timed
    try:
        yield
    finally:
        events._write = original


def _round_trip_floor(samples: int = 200) -> float:
    """The p50 of `SELECT 1` in this run: what one database round trip costs right now."""
    times = []
    with connection.cursor() as cursor:
        for _ in range(samples):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def run(*, rounds: int, moves: int, json_path: Path | None, log) -> dict:
    fixture = build_fixture(deals=moves + 1)
    browser = _Browser(fixture.user)
    modes = ("without", "recording", "with")
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    after: dict[str, list[float]] = {mode: [] for mode in modes}
    statements: dict[str, int] = {}
    before = set(OutboxEvent.objects.values_list("id", flat=True))
    write_times: list[float] = []
    floor_before = _round_trip_floor()
    try:
        for round_number in range(rounds):
            # Rotate the order so that no side always runs first (or last) in a round.
            order = modes[round_number % 3 :] + modes[: round_number % 3]
            for mode in order:
                _listening(fixture, mode != "without")
                with _publishing(mode != "recording"), _timing_the_write(write_times):
                    # Untimed: the process reads the endpoints again; then the count.
                    _move(browser, fixture.deals[-1], fixture.stages)
                    statements[mode] = _statements(browser, fixture.deals[-1], fixture.stages)
                    for deal_id in fixture.deals[:moves]:
                        answer, closing = _move(browser, deal_id, fixture.stages)
                        samples[mode].append(answer)
                        after[mode].append(closing)
    finally:
        _listening(fixture, False)
        OutboxEvent.objects.exclude(id__in=before).delete()
    summary = {mode: timing_summary(samples[mode]) for mode in modes}
    floor = round((floor_before + _round_trip_floor()) / 2, 3)
    write = timing_summary(write_times)

    def added(mode: str) -> float:
        # The median of paired differences (the same deal, the same place in a round) is
        # steadier on a shared machine than the difference of the two medians.
        pairs = zip(samples[mode], samples["without"], strict=True)
        return round(statistics.median(a - b for a, b in pairs), 2)

    result = {
        "moves_each": len(samples["without"]),
        "move_ms": summary,
        "recording_adds_ms": added("recording"),
        "recording_and_publishing_add_ms": added("with"),
        "outbox_write_ms": write,
        "after_the_answer_ms": {mode: timing_summary(after[mode]) for mode in modes},
        "round_trip_floor_ms": floor,
        "target_ms": TARGET_MS,
        "within_target": write["p50"] < TARGET_MS,
        "sql_statements": statements,
        "broker": settings.CELERY_BROKER_URL.split("://", 1)[0],
        "database": connection.vendor,
    }
    publish = result["after_the_answer_ms"]["with"]["p50"]
    log(
        f"move (until its answer) p50: no endpoint {summary['without']['p50']} ms "
        f"({statements.get('without')} SQL); an endpoint listening, the event recorded "
        f"{summary['recording']['p50']} ms ({statements.get('recording')} SQL), and published "
        f"after the answer {summary['with']['p50']} ms. Recording adds "
        f"{result['recording_adds_ms']} ms (target < {TARGET_MS} ms), recording and publishing "
        f"{result['recording_and_publishing_add_ms']} ms; the outbox write itself p50 "
        f"{write['p50']} ms, p95 {write['p95']} ms (a database round trip now: {floor} ms); "
        f"the publish after the answer p50 {publish} ms "
        f"[{result['database']}, broker {result['broker']}]"
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
    return result
