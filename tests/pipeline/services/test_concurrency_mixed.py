"""Many people on one board over HTTP, while the background jobs run: real threads against
PostgreSQL, each with its own connection and its own signed-in client.

Ten sessions (two salespeople and a manager) each do twenty mixed actions on neighbouring
columns (drags, edits, quick adds, won/lost/reopen, pause/resume, completing activities, the
review's move back) while the flag scan, the snapshot, the tier job and the analytics refresh
run in a loop. Every answer must be a success or a refusal the user is shown, never a 5xx;
afterwards every invariant of the board holds.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.services.tiers import tiers_recompute
from pipeline import services
from pipeline.models import Activity, Deal, Flag, LostReason, StageChange, StageTotal
from pipeline.models.deals import has_open_flag
from pipeline.services.analytics import analytics_refresh
from pipeline.services.forecasts import forecast_snapshot_take
from tests.conftest import requires_postgres
from tests.factories import DealFactory
from tests.pipeline.services.test_concurrency import run_at_once

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

HTMX = {"HTTP_HX_REQUEST": "true"}
SESSIONS = 10
ACTIONS = 20
DEALS_PER_SESSION = 4


class Session:
    """One signed-in browser working on its own deals, remembering where each one must be
    after every action the server accepted."""

    def __init__(self, user, deals, stages, reason, *, manager=False, seed=0):
        self.user = user
        self.deals = deals
        self.stages = stages
        self.reason = reason
        self.manager = manager
        self.random = random.Random(seed)
        self.expected: dict[int, tuple[int, str]] = {d.pk: (d.stage_id, "open") for d in deals}
        self.stage_changes: Counter[int] = Counter()  # factories write no history
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.created: list[int] = []

    def _version(self, pk):
        return Deal.objects.values_list("version", flat=True).get(pk=pk)

    def _post(self, url, data, *, htmx=True):
        response = self.client.post(url, data, **(HTMX if htmx else {}))
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.errors.append(f"{response.status_code} {url}")
        return response.status_code < 400

    def _neighbour(self, stage_id):
        index = next(i for i, s in enumerate(self.stages) if s.pk == stage_id)
        if index == 0:
            return self.stages[1]
        if index == len(self.stages) - 1:
            return self.stages[index - 1]
        return self.stages[index + self.random.choice((-1, 1))]

    def act(self):
        pk = self.random.choice([d.pk for d in self.deals])
        stage_id, status = self.expected[pk]
        if status == "paused":
            if self._post(reverse("deal-resume", args=[pk]), {"version": self._version(pk)}):
                self.expected[pk] = (stage_id, "open")
            return
        if status in ("won", "lost"):
            if self._post(reverse("deal-reopen", args=[pk]), {"version": self._version(pk)}):
                self.expected[pk] = (stage_id, "open")
            return
        kind = self.random.choice(
            ["drag", "drag", "drag", "reorder", "edit", "activity", "close", "pause", "add"]
        )
        if self.manager and kind == "reorder":
            kind = "move_back"
        if kind in ("drag", "move_back"):
            target = self._neighbour(stage_id)
            if kind == "move_back":
                index = next(i for i, s in enumerate(self.stages) if s.pk == stage_id)
                if index == 0:
                    return
                target = self.stages[index - 1]
                ok = self._post(
                    reverse("review-move-back", args=[pk]),
                    {"version": self._version(pk), "section": "stale"},
                )
            else:
                ok = self._post(
                    reverse("deal-move", args=[pk]),
                    {"stage": target.pk, "version": self._version(pk)},
                )
            if ok:
                self.expected[pk] = (target.pk, "open")
                self.stage_changes[pk] += 1
        elif kind == "reorder":
            others = list(
                Deal.objects.filter(stage_id=stage_id, status="open")
                .exclude(pk=pk)
                .values_list("pk", flat=True)[:5]
            )
            data = {"stage": stage_id, "version": self._version(pk)}
            if others:
                data["after"] = self.random.choice(others)
            self._post(reverse("deal-move", args=[pk]), data)
        elif kind == "edit":
            deal = Deal.objects.get(pk=pk)
            self._post(
                reverse("deal-update", args=[pk]),
                {
                    "title": f"{deal.title.split(' #')[0]} #{self.random.randint(1, 999)}",
                    "company": deal.company_id or "",
                    "owner": deal.owner_id or "",
                    "value": str(self.random.randint(100, 90_000)),
                    "currency": deal.currency,
                    "version": deal.version,
                },
                htmx=False,
            )
        elif kind == "activity":
            activity = Activity.objects.filter(deal_id=pk, done_at__isnull=True).first()
            if activity is None:
                self._post(
                    reverse("activity-create", args=[pk]),
                    {
                        "kind": "call",
                        "subject": "Call back",
                        "due_date": (timezone.localdate() + timedelta(days=2)).isoformat(),
                    },
                    htmx=False,
                )
            else:
                self._post(reverse("activity-complete", args=[activity.pk]), {}, htmx=False)
        elif kind == "close":
            if self.random.random() < 0.5:
                ok = self._post(
                    reverse("deal-won", args=[pk]), {"version": self._version(pk)}, htmx=False
                )
                if ok:
                    self.expected[pk] = (stage_id, "won")
            else:
                ok = self._post(
                    reverse("deal-lost", args=[pk]),
                    {"version": self._version(pk), "reason": self.reason.pk, "note": ""},
                    htmx=False,
                )
                if ok:
                    self.expected[pk] = (stage_id, "lost")
        elif kind == "pause":
            ok = self._post(
                reverse("deal-pause", args=[pk]),
                {
                    "version": self._version(pk),
                    "until": (timezone.localdate() + timedelta(days=20)).isoformat(),
                    "reason": "Budget next quarter",
                },
                htmx=False,
            )
            if ok:
                self.expected[pk] = (stage_id, "paused")
        elif kind == "add":
            stage = self.stages[self.random.randrange(len(self.stages))]
            before = set(Deal.objects.filter(stage=stage).values_list("pk", flat=True))
            self._post(
                reverse("deal-quick-create", args=[stage.pipeline_id, stage.pk]),
                _quick_add_data(f"Quick {self.user.username} {self.random.randint(1, 10**6)}"),
            )
            self.created += list(
                Deal.objects.filter(stage=stage, owner=self.user)
                .exclude(pk__in=before)
                .values_list("pk", flat=True)
            )

    def run(self):
        self.client = Client()
        self.client.force_login(self.user)
        for _ in range(ACTIONS):
            self.act()
        return self


def _quick_add_data(title):
    return {
        "title": title,
        "value": "1200",
        "currency": "EUR",
        "step-subject": "Call to qualify",
        "step-due_date": (timezone.localdate() + timedelta(days=1)).isoformat(),
        "step-kind": "call",
    }


def _background_jobs(stop: threading.Event, errors: list):
    """The periodic jobs, over and over until the sessions are done (bounded)."""

    def work():
        try:
            for round_ in range(200):
                if stop.is_set():
                    break
                now = timezone.now() + timedelta(days=round_ % 3)  # flags come and go
                services.flags_scan(now=now)
                forecast_snapshot_take()
                tiers_recompute()
                analytics_refresh()
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(repr(error))
        finally:
            connection.close()

    return threading.Thread(target=work)


def _assert_board_invariants():
    # Positions are unique per column.
    duplicates = (
        Deal.objects.filter(status="open")
        .values("stage_id", "position")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists(), list(duplicates)
    # The kept column totals equal a recount from the deals.
    recount = {
        (r["stage_id"], r["currency"]): (r["n"], r["total"], r["flagged"])
        for r in Deal.objects.filter(status="open")
        .values("stage_id", "currency")
        .annotate(n=Count("pk"), total=Sum("value"), flagged=Count("pk", filter=has_open_flag()))
        .order_by()
    }
    kept = {
        (t.stage_id, t.currency): (t.count, t.value, t.attention)
        for t in StageTotal.objects.all()
        if t.count or t.value or t.attention
    }
    assert kept == recount
    # At most one open flag per deal and kind.
    assert not (
        Flag.objects.filter(resolved_at__isnull=True)
        .values("deal_id", "kind")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .exists()
    )


def test_ten_sessions_of_mixed_actions_while_the_jobs_run_answer_no_5xx(alice, alex, bob, stages_a):
    reason = LostReason.objects.create(name="Price")
    owners = [alice, alex]
    sessions = []
    for i in range(SESSIONS):
        manager = i == SESSIONS - 1
        owner = owners[i % 2]
        deals = [
            DealFactory(
                stage=stages_a[(i + j) % len(stages_a)],
                owner=owner,
                title=f"S{i} deal {j}",
                # Some stale, some without next step: the scan raises and resolves flags.
                rots_at=timezone.now() + timedelta(days=j - 1),
                last_movement_at=timezone.now(),
            )
            for j in range(DEALS_PER_SESSION)
        ]
        user = bob if manager else owner
        sessions.append(Session(user, deals, stages_a, reason, manager=manager, seed=i))
    services.flags_scan()

    stop = threading.Event()
    job_errors: list[str] = []
    jobs = _background_jobs(stop, job_errors)
    jobs.start()
    try:
        results = run_at_once([session.run for session in sessions])
    finally:
        stop.set()
        jobs.join(timeout=120)

    assert all(isinstance(r, Session) for r in results), results
    errors = [e for s in sessions for e in s.errors]
    statuses = sum((s.statuses for s in sessions), Counter())
    assert errors == [], (errors, statuses)
    assert job_errors == []
    assert sum(statuses.values()) == SESSIONS * ACTIONS
    assert all(code < 500 for code in statuses)

    # Every card is where its last accepted action put it, with one history row per change.
    for session in sessions:
        for pk, (stage_id, status) in session.expected.items():
            deal = Deal.objects.get(pk=pk)
            assert (deal.stage_id, deal.status) == (stage_id, status), deal.title
            assert StageChange.objects.filter(deal_id=pk).count() == session.stage_changes[pk]
    _assert_board_invariants()
    services.flags_scan()
    _assert_board_invariants()


def test_two_drags_of_one_card_with_the_same_version_one_wins_thirty_times(
    alice, alex, bob, stages_a
):
    """Two people drag the same card at the same moment, both with the version they loaded:
    exactly one drag wins, the other is told (409) and the card is where the winner put it."""
    for round_ in range(30):
        deal = DealFactory(stage=stages_a[1], owner=alice, title=f"Race {round_}")
        version = deal.version
        targets = [stages_a[0], stages_a[2]]
        clients = []
        for user in (alice, bob):
            client = Client()
            client.force_login(user)
            clients.append(client)

        url = reverse("deal-move", args=[deal.pk])

        def drag(client, target, url=url, version=version):
            return lambda: (
                client.post(url, {"stage": target.pk, "version": version}, **HTMX).status_code
            )

        codes = run_at_once([drag(c, t) for c, t in zip(clients, targets, strict=True)])
        assert sorted(codes) == [200, 409], codes
        deal.refresh_from_db()
        winner = targets[codes.index(200)]
        assert deal.stage_id == winner.pk and deal.version == version + 1
        assert StageChange.objects.filter(deal=deal).count() == 1
    _assert_board_invariants()
