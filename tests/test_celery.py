"""Celery and the flag scan (issue 3): a real worker end to end, a broker outage, the scan's
properties against an independently computed expected set, and time zone edges.

The integration test needs PostgreSQL and a Redis at CELERY_BROKER_URL (CI has both); it is
skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from crm.celery import app
from pipeline import services
from pipeline.models import Activity, Deal, DealStatus, Flag, FlagKind
from pipeline.services import POSITION_GAP, stage_totals_rebuild
from tests.conftest import is_postgres, requires_postgres
from tests.factories import DealFactory

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
HTMX = {"HTTP_HX_REQUEST": "true"}
CLOSED_PORT_BROKER = "redis://127.0.0.1:6390/0"


# --- helpers ----------------------------------------------------------------------------------


def open_flags(deal: Deal | None = None) -> list[tuple[int, str]]:
    qs = Flag.objects.filter(resolved_at__isnull=True)
    if deal is not None:
        qs = qs.filter(deal=deal)
    return list(qs.values_list("deal_id", "kind"))


def assert_no_duplicate_open_flags() -> None:
    dupes = (
        Flag.objects.filter(resolved_at__isnull=True)
        .values("deal_id", "kind")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not dupes.exists(), list(dupes)


def set_next_step(deal: Deal, due: date, *, subject: str = "Call back") -> Activity:
    """Give `deal` a real open activity as its next step, bypassing the services (fixtures)."""
    activity = Activity.objects.create(deal=deal, subject=subject, due_date=due)
    Deal.objects.filter(pk=deal.pk).update(
        next_step=activity, next_step_subject=subject, next_step_due=due
    )
    return activity


def expected_flags(*, now: datetime) -> set[tuple[int, str]]:
    """The definitions (docs/product.md), computed in plain Python from the deals' own fields,
    independently of the SQL in pipeline/services/flags.py."""
    today = now.astimezone(COPENHAGEN).date()
    expected = set()
    for deal in Deal.objects.all():
        if deal.status != DealStatus.OPEN:
            continue
        if deal.next_step_id is None:
            expected.add((deal.pk, FlagKind.NO_NEXT_STEP))
        if deal.next_step_due is not None and deal.next_step_due < today:
            expected.add((deal.pk, FlagKind.OVERDUE_NEXT_STEP))
        if deal.rots_at is not None and deal.rots_at < now:
            expected.add((deal.pk, FlagKind.STALE))
    return expected


def random_deals(stages, owner, *, count: int = 300, seed: int = 20261122) -> datetime:
    """`count` deals with random statuses, next steps (real Activity rows, due from ten days
    ago to ten days ahead), and rotting dates (none, or whole hours either side of now, never
    at now itself). Paused deals resume in the future, so the scan leaves them alone. Returns
    the `now` the data was built around."""
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate(now)
    statuses = [DealStatus.OPEN] * 7 + [DealStatus.WON, DealStatus.LOST, DealStatus.PAUSED]
    deals = []
    for i in range(count):
        stage = rng.choice(stages)
        status = rng.choice(statuses)
        rots_at = None
        if rng.random() > 0.1:
            rots_at = now + timedelta(hours=rng.choice([-1, 1]) * rng.randint(1, 24 * 20))
        deals.append(
            Deal(
                title=f"Random {i}",
                pipeline=stage.pipeline,
                stage=stage,
                owner=owner,
                position=(i + 1) * POSITION_GAP,
                status=status,
                rots_at=rots_at,
                closed_at=now if status in (DealStatus.WON, DealStatus.LOST) else None,
                paused_at=now - timedelta(days=1) if status == DealStatus.PAUSED else None,
                paused_until=(
                    today + timedelta(days=rng.randint(1, 30))
                    if status == DealStatus.PAUSED
                    else None
                ),
            )
        )
    deals = Deal.objects.bulk_create(deals)
    with_step = [d for d in deals if rng.random() < 0.7]
    activities = Activity.objects.bulk_create(
        [
            Activity(
                deal=d, subject=f"Step {d.pk}", due_date=today + timedelta(rng.randint(-10, 10))
            )
            for d in with_step
        ]
    )
    for deal, activity in zip(with_step, activities, strict=True):
        deal.next_step = activity
        deal.next_step_subject = activity.subject
        deal.next_step_due = activity.due_date
    Deal.objects.bulk_update(with_step, ["next_step", "next_step_subject", "next_step_due"])
    stage_totals_rebuild(stage_ids=[s.pk for s in stages])
    return now


def assert_flags_match_definitions(now: datetime) -> None:
    assert_no_duplicate_open_flags()
    expected = expected_flags(now=now)
    actual = set(open_flags())
    assert actual == expected, {
        "missing": sorted(expected - actual)[:20],
        "extra": sorted(actual - expected)[:20],
    }
    flagged = {deal_id for deal_id, _ in expected}
    attention = set(Deal.objects.needing_attention().values_list("pk", flat=True))
    assert attention == flagged


@contextmanager
def broker_down():
    """Point Celery at a port nothing listens on: settings, the environment (Celery prefers
    CELERY_BROKER_URL and the read/write variants from os.environ over its configuration) and
    the live app, whose connection pools are set aside so nothing reuses a connection to a
    working broker."""
    conf = app.conf
    saved = {
        "broker_url": conf.broker_url,
        "broker_transport_options": conf.broker_transport_options,
    }
    saved_pool = app._pool
    saved_producers = getattr(app.amqp, "_producer_pool", None)
    options = {"socket_connect_timeout": 1, "socket_timeout": 1, "max_retries": 0}
    environ = {
        "CELERY_BROKER_URL": CLOSED_PORT_BROKER,
        "CELERY_BROKER_READ_URL": CLOSED_PORT_BROKER,
        "CELERY_BROKER_WRITE_URL": CLOSED_PORT_BROKER,
    }
    with (
        mock.patch.dict(os.environ, environ),
        override_settings(
            CELERY_BROKER_URL=CLOSED_PORT_BROKER, CELERY_BROKER_TRANSPORT_OPTIONS=options
        ),
    ):
        with app.connection_for_write() as probe:
            assert (probe.hostname, probe.port) == ("127.0.0.1", 6390), probe
        conf.broker_url = CLOSED_PORT_BROKER
        conf.broker_transport_options = options
        app._pool = None
        app.amqp._producer_pool = None
        try:
            yield
        finally:
            # The closed port's pool is left open: kombu keeps pools in a registry by URL and
            # would hand a closed one to the next broker_down() ("Acquire on closed pool").
            # Its connections never connected, so there is nothing to close.
            for key, value in saved.items():
                setattr(conf, key, value)
            app._pool = saved_pool
            app.amqp._producer_pool = saved_producers


@contextmanager
def timed(limit_s: float, what: str):
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    assert elapsed < limit_s, f"{what} took {elapsed:.2f} s (limit {limit_s} s)"


# --- a: a real worker, end to end -------------------------------------------------------------


def _redis_or_skip() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip(f"needs CELERY_BROKER_URL=redis://... (it is {url or 'unset'!r})")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {url} does not answer PING within 1 s: {error}")
    return url


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.mark.skipif(
    not is_postgres(),
    reason="the worker must share the test database; SQLite's test database is in memory "
    "(runs on PostgreSQL, as in CI)",
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_scan_end_to_end(stages_a, alice, tmp_path):
    broker_url = _redis_or_skip()
    deal = DealFactory(stage=stages_a[0], owner=alice, title="No plan yet")
    assert open_flags(deal) == []

    queue = f"test-celery-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "test-worker-key",
    }
    celery_bin = Path(sys.executable).parent / "celery"
    log_path = tmp_path / "worker.log"
    command = [
        str(celery_bin),
        "-A",
        "crm",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "--loglevel=info",
        f"--hostname={queue}@%h",
    ]
    ok = False
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            app.send_task("pipeline.flags_scan", queue=queue)
            deadline = time.monotonic() + 30
            flagged = False
            while time.monotonic() < deadline:
                flagged = Flag.objects.filter(
                    deal=deal, kind=FlagKind.NO_NEXT_STEP, resolved_at__isnull=True
                ).exists()
                if flagged:
                    break
                assert worker.poll() is None, f"the worker exited with {worker.returncode}"
                time.sleep(0.2)
            assert flagged, "the worker did not run pipeline.flags_scan within 30 s"
            assert open_flags(deal) == [(deal.pk, FlagKind.NO_NEXT_STEP)]
            assert Flag.objects.filter(deal=deal).count() == 1
            ok = True
        finally:
            if worker.poll() is None:
                worker.terminate()  # warm shutdown
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=5)
            _forget_queue(broker_url, queue)
            if not ok:
                print(f"--- celery worker output ({' '.join(command)}) ---")
                print(log_path.read_text(errors="replace"))


def _forget_queue(broker_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.delete(queue, f"_kombu.binding.{queue}")
    except redis.RedisError:
        pass


# --- b: a broker outage -----------------------------------------------------------------------


@pytest.mark.django_db
def test_broker_outage_breaks_no_request_and_the_next_scan_catches_up(
    client, alice, stages_a, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")
    services.flags_scan()
    assert open_flags(deal) == [(deal.pk, FlagKind.NO_NEXT_STEP)]
    client.force_login(alice)

    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        # The situation is real: anything that publishes now fails (at once, not hanging).
        with timed(5, "a publish to the closed port"), pytest.raises(OperationalError):
            app.send_task("pipeline.flags_scan", retry=False)

        with timed(1, "the drag"):
            response = client.post(
                reverse("deal-move", args=[deal.pk]),
                {"stage": stages_a[1].pk, "version": deal.version},
                **HTMX,
            )
        assert response.status_code == 200
        deal.refresh_from_db()
        assert deal.stage == stages_a[1] and deal.version == 2

        with timed(1, "adding a next step"):
            services.activity_create(
                acting_user=alice,
                deal=deal,
                subject="Send the offer",
                due_date=timezone.localdate() + timedelta(days=2),
            )
        # Resolved by the service at once, not by a scan that cannot be queued.
        assert open_flags(deal) == []

        with timed(1, "creating a deal"):
            newcomer = services.deal_create(acting_user=alice, stage=stages_a[0], title="New one")

    assert open_flags(newcomer) == []
    result = services.flags_scan()
    assert result.raised == 1
    assert open_flags(newcomer) == [(newcomer.pk, FlagKind.NO_NEXT_STEP)]
    assert open_flags(deal) == []


@pytest.mark.django_db
def test_nothing_in_the_request_path_publishes(
    client, alice, stages_a, django_capture_on_commit_callbacks
):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")
    services.flags_scan()
    client.force_login(alice)
    refuse = mock.Mock(side_effect=AssertionError("published to the broker in a request"))

    with (
        mock.patch("celery.app.task.Task.apply_async", refuse),
        mock.patch("celery.Celery.send_task", refuse),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("deal-move", args=[deal.pk]),
            {"stage": stages_a[1].pk, "version": deal.version},
            **HTMX,
        )
        assert response.status_code == 200
        services.activity_create(
            acting_user=alice, deal=deal, subject="Demo", due_date=timezone.localdate()
        )
        services.deal_create(acting_user=alice, stage=stages_a[0], title="Another")

    refuse.assert_not_called()
    assert open_flags(deal) == []


# --- c: the scan's properties -----------------------------------------------------------------


@pytest.mark.django_db
def test_scan_twice_equals_the_definitions_without_duplicates(alice, stages_a):
    now = random_deals(stages_a, alice)
    assert Deal.objects.count() == 300

    first = services.flags_scan()
    second = services.flags_scan()

    assert first.raised == len(expected_flags(now=now)) > 0
    assert (second.raised, second.resolved) == (0, 0)
    assert_flags_match_definitions(now)
    # Every kind occurs, and closed and paused deals carry none.
    assert {kind for _, kind in open_flags()} == set(FlagKind.values)
    assert not Flag.objects.exclude(deal__status=DealStatus.OPEN).exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_raise_each_flag_once(alice, stages_a):
    now = random_deals(stages_a, alice)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def scan(i: int) -> None:
        try:
            barrier.wait()
            results[i] = services.flags_scan()
        except Exception as error:  # noqa: BLE001 - inspected below
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(r.raised for r in results) == len(expected_flags(now=now))
    assert_flags_match_definitions(now)
    again = services.flags_scan()
    assert (again.raised, again.resolved) == (0, 0)


@pytest.mark.django_db
def test_paused_deals_raise_nothing_and_are_resumed_on_their_date(alice, stages_a):
    now = timezone.now()
    today = timezone.localdate(now)
    quiet = DealFactory(stage=stages_a[0], owner=alice, title="Back tomorrow")
    planned = DealFactory(stage=stages_a[0], owner=alice, title="Back tomorrow, planned")
    later = DealFactory(stage=stages_a[0], owner=alice, title="Back next week")
    set_next_step(planned, today + timedelta(days=5))
    for deal in (quiet, planned, later):
        deal.refresh_from_db()
        until = today + timedelta(days=7 if deal is later else 1)
        services.deal_pause(acting_user=alice, deal=deal, version=None, until=until, reason="x")
    # Even a rotten, overdue paused deal raises nothing.
    Deal.objects.filter(pk=later.pk).update(
        rots_at=now - timedelta(days=30), next_step_due=today - timedelta(days=3)
    )

    services.flags_scan(now=now)
    assert open_flags() == []
    assert set(Deal.objects.values_list("status", flat=True)) == {DealStatus.PAUSED}

    tomorrow = now + timedelta(days=1)  # the resume date of two of them is today then
    services.flags_scan(now=tomorrow)

    statuses = dict(Deal.objects.values_list("pk", "status"))
    assert statuses == {
        quiet.pk: DealStatus.OPEN,
        planned.pk: DealStatus.OPEN,
        later.pk: DealStatus.PAUSED,
    }
    assert open_flags() == [(quiet.pk, FlagKind.NO_NEXT_STEP)]
    assert_flags_match_definitions(tomorrow)


@pytest.mark.django_db
def test_flags_resolve_as_soon_as_the_cause_is_fixed(alice, stages_a):
    now = timezone.now()
    bare = DealFactory(stage=stages_a[0], owner=alice, title="Bare")
    rotten = DealFactory(stage=stages_a[0], owner=alice, title="Rotten")
    set_next_step(rotten, timezone.localdate(now) + timedelta(days=3))
    Deal.objects.filter(pk=rotten.pk).update(rots_at=now - timedelta(days=1))
    services.flags_scan()
    assert set(open_flags()) == {
        (bare.pk, FlagKind.NO_NEXT_STEP),
        (rotten.pk, FlagKind.STALE),
    }

    # A next step added: the service resolves the flag, no scan needed.
    bare.refresh_from_db()
    services.activity_create(
        acting_user=alice, deal=bare, subject="Call", due_date=timezone.localdate()
    )
    assert open_flags(bare) == []
    bare.refresh_from_db()
    assert not bare.needs_attention
    resolved = Flag.objects.get(deal=bare)
    assert resolved.resolved_at is not None

    # A move is movement: no longer stale.
    rotten.refresh_from_db()
    services.deal_move(acting_user=alice, deal=rotten, stage_id=stages_a[1].pk, version=None)
    assert open_flags(rotten) == []
    assert_flags_match_definitions(timezone.now())


# --- d: time zone edges (Europe/Copenhagen) ---------------------------------------------------


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


TZ_CASES = [
    # (now in UTC, next step due, overdue?) — local time in the comment.
    pytest.param(utc(2026, 11, 22, 22, 30), date(2026, 11, 22), False, id="23:30 on the 22nd"),
    pytest.param(utc(2026, 11, 22, 22, 30), date(2026, 11, 21), True, id="yesterday at 23:30"),
    pytest.param(utc(2026, 11, 22, 23, 30), date(2026, 11, 22), True, id="00:30: 22nd overdue"),
    pytest.param(utc(2026, 11, 22, 23, 30), date(2026, 11, 23), False, id="00:30: 23rd today"),
    pytest.param(utc(2026, 11, 22, 22, 59, 59), date(2026, 11, 22), False, id="23:59:59"),
    pytest.param(utc(2026, 11, 22, 23, 0), date(2026, 11, 22), True, id="midnight exactly"),
    # Spring forward: 2026-03-29 01:00 UTC, 02:00 CET -> 03:00 CEST.
    pytest.param(utc(2026, 3, 29, 0, 59), date(2026, 3, 28), True, id="01:59 CET, due 28th"),
    pytest.param(utc(2026, 3, 29, 0, 59), date(2026, 3, 29), False, id="01:59 CET, due 29th"),
    pytest.param(utc(2026, 3, 29, 1, 0), date(2026, 3, 29), False, id="03:00 CEST, due 29th"),
    pytest.param(utc(2026, 3, 29, 21, 30), date(2026, 3, 29), False, id="23:30 CEST 29th"),
    # A fixed +01:00 would still say the 29th here (23:30); it is 00:30 on the 30th.
    pytest.param(utc(2026, 3, 29, 22, 30), date(2026, 3, 29), True, id="00:30 CEST 30th"),
    # Fall back: 2026-10-25 01:00 UTC, 03:00 CEST -> 02:00 CET.
    pytest.param(utc(2026, 10, 24, 22, 30), date(2026, 10, 24), True, id="00:30 CEST 25th"),
    pytest.param(utc(2026, 10, 25, 0, 59), date(2026, 10, 25), False, id="02:59 CEST 25th"),
    pytest.param(utc(2026, 10, 25, 1, 0), date(2026, 10, 24), True, id="02:00 CET 25th"),
    # A fixed +02:00 would already say the 26th here (00:30); it is 23:30 on the 25th.
    pytest.param(utc(2026, 10, 25, 22, 30), date(2026, 10, 25), False, id="23:30 CET 25th"),
    pytest.param(utc(2026, 10, 25, 23, 30), date(2026, 10, 25), True, id="00:30 CET 26th"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("now", "due", "overdue"), TZ_CASES)
def test_overdue_means_before_today_in_copenhagen(alice, stages_a, now, due, overdue):
    assert settings.TIME_ZONE == "Europe/Copenhagen"
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Edge")
    set_next_step(deal, due)

    services.flags_scan(now=now)

    assert set(open_flags(deal)) == ({(deal.pk, FlagKind.OVERDUE_NEXT_STEP)} if overdue else set())
    assert_flags_match_definitions(now)


@pytest.mark.django_db
def test_flags_sync_follows_the_local_day_across_the_autumn_change(alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice, title="Edge")
    set_next_step(deal, date(2026, 10, 25))
    scope = Deal.objects.filter(pk=deal.pk)

    # 23:59 CET on the 25th (the day had 25 hours): still due today.
    services.flags_sync(deals=scope, now=utc(2026, 10, 25, 22, 59))
    assert open_flags(deal) == []
    # One minute later it is the 26th in Copenhagen: overdue, raised at that instant.
    services.flags_sync(deals=scope, now=utc(2026, 10, 25, 23, 0))
    flag = Flag.objects.get(deal=deal, resolved_at__isnull=True)
    assert flag.kind == FlagKind.OVERDUE_NEXT_STEP
    assert flag.raised_at == utc(2026, 10, 25, 23, 0)
    # Back to a "now" when it was not overdue: resolved, not duplicated.
    services.flags_sync(deals=scope, now=utc(2026, 10, 25, 22, 0))
    assert open_flags(deal) == []
    assert Flag.objects.filter(deal=deal).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "instant", [utc(2026, 3, 29, 1, 0), utc(2026, 10, 25, 1, 0)], ids=["spring", "autumn"]
)
def test_staleness_is_an_instant_not_a_wall_clock_across_dst(alice, stages_a, instant):
    rotten = DealFactory(stage=stages_a[0], owner=alice, title="Rotten")
    fresh = DealFactory(stage=stages_a[0], owner=alice, title="Fresh")
    for deal in (rotten, fresh):
        set_next_step(deal, date(2026, 12, 31))
    Deal.objects.filter(pk=rotten.pk).update(rots_at=instant - timedelta(seconds=1))
    Deal.objects.filter(pk=fresh.pk).update(rots_at=instant + timedelta(seconds=1))

    services.flags_scan(now=instant)

    assert open_flags() == [(rotten.pk, FlagKind.STALE)]


# --- the embedded broker's folders ------------------------------------------------------------


def test_the_filesystem_broker_keeps_every_folder_under_var(tmp_path):
    """Each folder kombu's filesystem transport reads from its options (found on its Channel,
    so a folder a later kombu adds is checked too) resolves under var/, whatever the working
    directory: left to its default, the control folder was ./control in the repository."""
    code = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        "from kombu import Connection\n"
        "from kombu.transport.filesystem import Channel\n"
        "options = settings.CELERY_BROKER_TRANSPORT_OPTIONS\n"
        "with Connection(settings.CELERY_BROKER_URL, transport_options=options) as connection:\n"
        "    channel = connection.default_channel\n"
        "    names = [name for name in dir(Channel) if name.endswith(('folder', 'folder_in',"
        " 'folder_out'))]\n"
        "    print(json.dumps({name: str(getattr(channel, name)) for name in names}))\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "CELERY_", "DATABASE_"))
    }
    env.update(DJANGO_SECRET_KEY="x", DJANGO_SETTINGS_MODULE="crm.settings", PYTHONPATH=str(root))

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    folders = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"data_folder_in", "data_folder_out", "processed_folder", "control_folder"} <= set(
        folders
    )
    for name, folder in folders.items():
        assert Path(folder).is_absolute(), (name, folder)
        assert Path(folder).is_relative_to(root / "var"), (name, folder)
    assert list(tmp_path.iterdir()) == []  # nothing in the working directory
