"""`manage.py loadtest`'s machinery (crm/devtools/loadtest_session.py): the plans,
the classification of answers, the statistics, the reading of the real pages, and one small
run of a session against the live server."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from crm.devtools import loadtest_session as load
from pipeline.models import Activity, Deal, DealStatus, ExitCriterion, LostReason

# --- plans ----------------------------------------------------------------------------------


def test_a_plan_has_its_count_and_is_the_same_for_the_same_seed():
    first = load.plan_actions(20, random.Random(3))
    assert len(first) == 20
    assert first == load.plan_actions(20, random.Random(3))
    assert set(first) <= set(load.WEIGHTS)


def test_reopen_and_resume_only_undo_an_earlier_close_or_pause():
    for seed in range(200):
        closed = paused = 0
        for kind in load.plan_actions(20, random.Random(seed)):
            closed += kind in load.CLOSING
            paused += kind == "pause"
            closed -= kind == "reopen"
            paused -= kind == "resume"
            assert closed >= 0 and paused >= 0, (seed, kind)


def test_ten_sessions_of_twenty_use_every_kind_of_action():
    kinds = set()
    for index in range(10):
        kinds |= set(load.plan_actions(20, random.Random(12 * 1000 + index)))
    assert kinds == set(load.WEIGHTS)


# --- outcomes and statistics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, load.OK),
        (204, load.OK),
        (302, load.OK),
        (400, load.REFUSED),
        (403, load.REFUSED),
        (404, load.REFUSED),
        (409, load.REFUSED),
        (422, load.REFUSED),
        (500, load.ERROR),
        (503, load.ERROR),
        (None, load.ERROR),  # no answer: refused connection, reset, timeout
    ],
)
def test_answers_are_ok_refused_or_errors(status, outcome):
    assert load.classify(status) == outcome


def test_the_summary_counts_times_refusals_and_errors_per_kind():
    hits = [load.Hit("drag", 200, float(ms)) for ms in range(1, 101)]
    hits += [load.Hit("drag", 409, 5.0), load.Hit("drag", 500, 7.0), load.Hit("drag", None, 1.0)]
    hits += [load.Hit("board", 200, 30.0), load.Hit("edit", 302, 12.0)]
    rows = {r.kind: r for r in load.summarise(hits)}
    drag = rows["drag"]
    # 102 answered times (the dropped connection has none): 1..100, 5 and 7.
    assert (drag.count, drag.refused, drag.errors) == (103, 1, 2)
    assert drag.p50 == 49.5
    assert drag.p95 == 95.0
    assert (rows["edit"].p50, rows["edit"].refused, rows["edit"].errors) == (12.0, 0, 0)
    # Actions first, in the plan's order; the reads after them.
    assert [r.kind for r in load.summarise(hits)] == ["drag", "edit", "board"]
    assert [h.kind for h in load.writes(hits)].count("board") == 0
    assert load.format_table(load.summarise(hits))[2].split()[:3] == ["drag", "103", "49.5"]


# --- reading the real pages -----------------------------------------------------------------


@pytest.fixture
def board(alice, bob, stages_a):
    """alice's cards in the first two columns (one with a next step), bob's in the second,
    exit criteria on the first stage, a lost reason."""
    ExitCriterion.objects.create(stage=stages_a[0], text="Customer replied", is_required=True)
    mine = [
        _deal(stages_a[0], alice, "First"),
        _deal(stages_a[0], alice, "Second"),
        _deal(stages_a[1], alice, "Third"),
    ]
    theirs = _deal(stages_a[1], bob, "Bob's")
    step = Activity.objects.create(
        deal=mine[0], subject="Call", due_date=timezone.localdate() + timedelta(days=2)
    )
    Deal.objects.filter(pk=mine[0].pk).update(
        next_step=step, next_step_subject="Call", next_step_due=step.due_date
    )
    LostReason.objects.get_or_create(name="Price")
    return {"mine": mine, "theirs": theirs, "step": step}


def _deal(stage, owner, title):
    from tests.factories import DealFactory

    return DealFactory(stage=stage, owner=owner, title=title)


@pytest.mark.django_db
def test_the_board_is_read_as_board_js_sees_it(client, alice, stages_a, board):
    client.force_login(alice)
    response = client.get(reverse("board", args=[stages_a[0].pipeline_id]))
    columns, loose = load.parse_cards(response.content.decode())
    assert [c.stage_id for c in columns] == [s.pk for s in stages_a]
    assert [c.has_criteria for c in columns] == [True, False, False, False]
    assert loose == []
    cards = {card.id: card for column in columns for card in column.cards}
    first = board["mine"][0]
    assert cards[first.pk].version == first.version
    assert cards[first.pk].owner == str(alice)
    assert cards[first.pk].step_done_url == reverse("activity-complete", args=[board["step"].pk])
    assert cards[board["theirs"].pk].owner != str(alice)
    assert cards[board["mine"][1].pk].step_done_url == ""


@pytest.mark.django_db
def test_the_deal_pages_forms_are_read_as_a_browser_submits_them(client, alice, board):
    client.force_login(alice)
    deal = board["mine"][0]
    html = client.get(reverse("deal-detail", args=[deal.pk])).content.decode()
    edit = load.find_form(html, reverse("deal-update", args=[deal.pk]))
    fields = dict(edit.fields)
    assert fields["version"] == str(deal.version)
    assert fields["title"] == "First"
    assert fields["currency"] == "EUR"
    assert "csrfmiddlewaretoken" in fields
    assert dict(edit.values(value="1100.00"))["value"] == "1100.00"
    pause = load.find_form(html, reverse("deal-pause", args=[deal.pk]))
    assert {"version", "reason", "until"} <= set(dict(pause.fields))


# --- a small real run -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_session_does_its_plan_over_http_without_errors(
    live_server, settings, alice, stages_a, board
):
    """One session (SQLite serialises writers; the command runs ten on PostgreSQL), every
    kind of action once, through the live server."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]  # the sessions' Host
    port = int(live_server.url.rsplit(":", 1)[1])
    spec = load.SessionSpec(0, "alice", "correct-horse-battery", str(alice))
    hits = []
    session = load.Session(
        spec,
        port=port,
        board_path=reverse("board", args=[stages_a[0].pipeline_id]),
        plan=list(load.WEIGHTS),  # drag, reorder, edit, ..., review: each once
        rng=random.Random(1),
        deadline=float("inf"),
        record=hits.append,
        timeout=20,
    )
    session.run()
    assert [h.detail for h in hits if h.outcome != load.OK] == []
    # Each planned action happened, once, and the next step after the completed one.
    assert sorted(h.kind for h in load.writes(hits)) == sorted([*load.WEIGHTS, "plan step"])
    assert Deal.objects.filter(title__startswith="Load test alice").count() == 1
    assert Deal.objects.filter(owner=alice, status=DealStatus.PAUSED).count() == 0


@pytest.mark.django_db
def test_the_command_refuses_without_postgresql_or_the_demo_data():
    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("loadtest")
    else:
        with pytest.raises(CommandError, match="seed_demo"):
            call_command("loadtest")
