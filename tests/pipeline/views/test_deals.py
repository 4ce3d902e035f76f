"""Deal write paths: happy path, outsider 404, read-only 403, bad input 400 — each asserting
that nothing changed — for the htmx and the plain path."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Organisation
from crm.organisation import organisation_changed
from pipeline.forms.activities import working_days_after
from pipeline.models import (
    Activity,
    Deal,
    DealCriterionCheck,
    DealStatus,
    ExitCriterion,
    LostReason,
    StageChange,
    StageTotal,
)
from tests.factories import DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def organisation(**values) -> None:
    Organisation.objects.filter(pk=1).update(**values)
    organisation_changed()


def snapshot(deal):
    row = Deal.objects.get(pk=deal.pk)
    return (row.title, row.stage_id, row.position, row.status, row.version, row.owner_id, row.value)


@pytest.fixture
def deal(stages_a, alice):
    return DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")


@pytest.fixture
def other(stages_a, alice):
    return DealFactory(stage=stages_a[1], owner=alice, title="Racking")


# --- move -----------------------------------------------------------------------------------


def move(client, deal, stage, **extra):
    data = {"stage": stage.pk, "version": deal.version, **extra}
    return client.post(reverse("deal-move", args=[deal.pk]), data, **HTMX)


def test_drop_answers_with_the_moved_card_in_its_place_and_both_headers(
    client, alice, deal, other, stages_a
):
    client.force_login(alice)
    response = move(client, deal, stages_a[1], after=other.pk, loaded=2)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == stages_a[1] and deal.version == 2
    html = response.content.decode()
    # Only what changed: the moved card (new version), swapped for the card the browser moved.
    assert response["HX-Retarget"] == f"#deal-{deal.pk}" and response["HX-Reswap"] == "outerHTML"
    assert html.count("<article") == 1 and f'id="deal-{deal.pk}" data-version="2"' in html
    assert f'id="stage-{stages_a[0].pk}-cards"' not in html
    assert f'id="stage-{stages_a[0].pk}-header" hx-swap-oob="outerHTML"' in html
    assert f'id="stage-{stages_a[1].pk}-header" hx-swap-oob="outerHTML"' in html
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1]).count() == 1


def test_drop_next_to_a_card_that_has_gone_answers_with_the_column(
    client, alice, deal, other, stages_a
):
    """The neighbour the browser named left the column meanwhile: the card goes to the top,
    and the answer is the target column as it now is."""
    gone = DealFactory(stage=stages_a[2], owner=alice)
    client.force_login(alice)
    response = move(client, deal, stages_a[1], after=gone.pk, loaded=2)
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#stage-{stages_a[1].pk}-cards"
    assert response["HX-Reswap"] == "innerHTML"
    html = response.content.decode()
    assert html.index(f'id="deal-{deal.pk}"') < html.index(f'id="deal-{other.pk}"')


def test_drop_below_the_last_loaded_card_of_a_longer_column_answers_with_the_column(
    client, alice, deal, other, stages_a
):
    """Cards the browser has not loaded follow the drop: the column comes back, so its "load
    more" cursor never fetches the moved card a second time."""
    unloaded = DealFactory(stage=stages_a[1], owner=alice, position=other.position + 10_000)
    client.force_login(alice)
    response = move(client, deal, stages_a[1], after=other.pk, loaded=2)
    assert response["HX-Retarget"] == f"#stage-{stages_a[1].pk}-cards"
    html = response.content.decode()
    assert html.index(f'id="deal-{deal.pk}"') < html.index(f'id="deal-{unloaded.pk}"')


def test_plain_move_form_redirects_to_the_deal(client, alice, deal, stages_a):
    client.force_login(alice)
    response = client.post(reverse("deal-move", args=[deal.pk]), {"stage": stages_a[2].pk})
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    deal.refresh_from_db()
    assert deal.stage == stages_a[2]


def test_manager_may_move_a_team_deal(client, bob, deal, stages_a):
    client.force_login(bob)
    assert move(client, deal, stages_a[3]).status_code == 200
    assert Deal.objects.get(pk=deal.pk).stage == stages_a[3]


def test_outsider_moving_gets_404_and_nothing_changes(client, carol, deal, stages_a):
    before = snapshot(deal)
    client.force_login(carol)
    assert move(client, deal, stages_a[1]).status_code == 404
    assert (
        client.post(reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk}).status_code
        == 404
    )
    assert snapshot(deal) == before


def test_colleague_moving_someone_elses_deal_gets_403_and_nothing_changes(
    client, alex, deal, stages_a
):
    before = snapshot(deal)
    client.force_login(alex)
    response = move(client, deal, stages_a[1])
    assert response.status_code == 403
    assert "only its owner, a manager or an admin" in response.content.decode()
    assert response["HX-Retarget"] == "#toasts"
    assert snapshot(deal) == before


@pytest.mark.parametrize(
    "data",
    [
        {"stage": "abc"},
        {"stage": ""},
        {"version": "-1"},
        {"after": "not-a-number"},
        {"loaded": "100000"},
        {"owner": "999999"},
    ],
)
def test_bad_move_input_is_400_and_nothing_changes(client, alice, deal, stages_a, data):
    before = snapshot(deal)
    client.force_login(alice)
    payload = {"stage": stages_a[1].pk, "version": deal.version, **data}
    response = client.post(reverse("deal-move", args=[deal.pk]), payload, **HTMX)
    assert response.status_code == 400
    assert snapshot(deal) == before


def test_stage_of_another_pipeline_is_400_and_nothing_changes(client, admin, deal, stages_b):
    before = snapshot(deal)
    client.force_login(admin)
    assert move(client, deal, stages_b[0]).status_code == 400
    assert snapshot(deal) == before


def test_stale_drop_is_409_and_nothing_changes(client, alice, deal, stages_a):
    client.force_login(alice)
    before = snapshot(deal)
    response = client.post(
        reverse("deal-move", args=[deal.pk]), {"stage": stages_a[2].pk, "version": 99}, **HTMX
    )
    assert response.status_code == 409
    assert "refreshed" in response.content.decode()
    assert snapshot(deal) == before


def test_move_of_a_closed_deal_is_refused(client, alice, deal, stages_a):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.WON)
    client.force_login(alice)
    response = move(client, deal, stages_a[1])
    assert response.status_code == 400
    assert Deal.objects.get(pk=deal.pk).stage == stages_a[0]


# The access door's query: the deal joined with its pipeline (the access check needs it).
DEAL_DOOR = 'FROM "pipeline_deal" INNER JOIN "pipeline_pipeline"'


def posted(client, url, data, **extra):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data, **extra)
    return response, [query["sql"] for query in queries]


def test_a_drop_loads_the_deal_once_in_a_fixed_number_of_queries(
    client, alice, deal, other, stages_a
):
    """A drop into the next column, out of a stage with exit criteria the deal has recorded,
    answered with the card and both headers. Queries (the session comes from the shared cache): the user with their
    memberships; the deal through its door; in the service's transaction (BEGIN and COMMIT;
    a savepoint and its release here): both columns locked with their kept totals; the deal
    locked with its card, its neighbours' positions, its open flags and whether an exit
    criterion is unmet; the deal; its stage change; both columns' totals. Nine: the
    ceiling is twelve, two kept for the follow-up routines a move will run."""
    criterion = ExitCriterion.objects.create(stage=stages_a[0], text="Budget", is_required=True)
    DealCriterionCheck.objects.create(
        deal=deal, criterion=criterion, stage=stages_a[0], text="Budget", checked_by=alice
    )
    client.force_login(alice)
    client.get(reverse("board", args=[deal.pipeline_id]))  # exchange rates: once a minute
    data = {"stage": stages_a[1].pk, "version": deal.version, "after": other.pk, "loaded": 2}
    data["confirm"] = "1"  # from the exit criteria dialog, as board.js sends a forward drop
    response, queries = posted(client, reverse("deal-move", args=[deal.pk]), data, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#deal-{deal.pk}"
    assert Deal.objects.get(pk=deal.pk).stage == stages_a[1]
    assert len(queries) == 9
    assert sum(DEAL_DOOR in sql for sql in queries) == 1


def test_a_drop_ticking_exit_criteria_into_a_stage_with_a_routine_stays_under_twelve(
    client, alice, deal, other, stages_a
):
    """The drag `make bench` times: from the exit criteria dialog (a required criterion ticked
    there) into a stage whose follow-up routine plans the next step. On top of the plain
    drop's nine: the ticked criterion recorded (its INSERT), the routines' SELECT and the
    activity's INSERT; the deal's next step is written with the move. Twelve at most, session
    and user included."""
    from pipeline import services
    from pipeline.models import Activity

    criterion = ExitCriterion.objects.create(stage=stages_a[0], text="Budget", is_required=True)
    services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a summary", kind="email", due_in_days=2
    )
    client.force_login(alice)
    client.get(reverse("board", args=[deal.pipeline_id]))  # exchange rates: once a minute
    data = {"stage": stages_a[1].pk, "version": deal.version, "after": other.pk, "loaded": 2}
    data |= {"confirm": "1", "criteria": [criterion.pk]}
    response, queries = posted(client, reverse("deal-move", args=[deal.pk]), data, **HTMX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#deal-{deal.pk}"
    moved = Deal.objects.get(pk=deal.pk)
    assert moved.stage == stages_a[1] and moved.version == deal.version + 1
    assert DealCriterionCheck.objects.filter(deal=deal, criterion=criterion).exists()
    step = Activity.objects.get(deal=deal, subject="Send a summary")
    assert moved.next_step_id == step.pk
    assert len(queries) == 12, "\n".join(queries)
    assert sum(DEAL_DOOR in sql for sql in queries) == 1


def test_a_stale_cards_drop_resolves_its_flag_in_one_more_query(
    client, alice, deal, other, stages_a
):
    """Entering a stage is movement: the stale flag goes, the others stay, and the columns'
    attention counts follow, written with the move."""
    from pipeline.models import Flag, FlagKind
    from pipeline.services import stage_totals_rebuild

    long_ago = timezone.now() - timedelta(days=60)
    Deal.objects.filter(pk=deal.pk).update(rots_at=long_ago)
    stale = Flag.objects.create(deal=deal, kind=FlagKind.STALE, raised_at=long_ago)
    missing = Flag.objects.create(deal=deal, kind=FlagKind.NO_NEXT_STEP, raised_at=long_ago)
    stage_totals_rebuild()
    client.force_login(alice)
    client.get(reverse("board", args=[deal.pipeline_id]))
    data = {"stage": stages_a[1].pk, "version": deal.version, "after": other.pk, "loaded": 2}
    response, queries = posted(client, reverse("deal-move", args=[deal.pk]), data, **HTMX)
    assert response.status_code == 200 and len(queries) == 10
    stale.refresh_from_db()
    missing.refresh_from_db()
    assert stale.resolved_at is not None and missing.resolved_at is None
    assert Deal.objects.get(pk=deal.pk).needs_attention
    totals = {t.stage_id: t.attention for t in StageTotal.objects.filter(currency=deal.currency)}
    assert totals[stages_a[0].pk] == 0 and totals[stages_a[1].pk] == 1
    # The kept totals are what a recount says (a recount leaves out an empty column's row).
    stage_totals_rebuild()
    recounted = {t.stage_id: t.attention for t in StageTotal.objects.filter(count__gt=0)}
    assert recounted == {stages_a[1].pk: 1}


@pytest.mark.parametrize(
    "data, status",
    [
        ({"stage": "x"}, 400),  # bad input: the deal page with the form's error
        ({"stage": 999999}, 400),  # refused by the service: the deal page with the message
        ({"stage": 2}, 200),  # forward: the exit criteria step first
        ({"stage": 2, "confirm": "1"}, 422),  # a required criterion not ticked
        ({"stage": 0}, 302),  # back: moved, and back to the deal
    ],
)
def test_the_deal_pages_move_loads_the_deal_once(client, alice, deal, stages_a, data, status):
    Deal.objects.filter(pk=deal.pk).update(stage=stages_a[1])
    ExitCriterion.objects.create(stage=stages_a[1], text="Budget approved", is_required=True)
    if isinstance(data["stage"], int) and data["stage"] < len(stages_a):
        data = {**data, "stage": stages_a[data["stage"]].pk}
    client.force_login(alice)
    response, queries = posted(client, reverse("deal-move", args=[deal.pk]), data)
    assert response.status_code == status
    assert sum(DEAL_DOOR in sql for sql in queries) == 1


def test_get_on_move_is_not_allowed(client, alice, deal):
    client.force_login(alice)
    assert client.get(reverse("deal-move", args=[deal.pk])).status_code == 405


# --- create ---------------------------------------------------------------------------------


def tomorrow():
    return timezone.localdate() + timedelta(days=1)


def step(subject="Call Jens about the budget", due=None, **extra):
    """The first next step, as the forms post it."""
    return {
        "step-subject": subject,
        "step-due_date": due or tomorrow(),
        "step-kind": "call",
        **extra,
    }


def quick_url(stage):
    return reverse("deal-quick-create", args=[stage.pipeline_id, stage.pk])


def nothing_created():
    return not Deal.objects.exists() and not Activity.objects.exists()


def test_quick_add_asks_for_the_first_next_step(client, alice, stages_a):
    client.force_login(alice)
    html = client.get(quick_url(stages_a[0]), **HTMX).content.decode()
    assert 'name="title"' in html and 'name="step-subject"' in html
    assert 'name="step-kind"' in html and 'value="call" selected' in html
    assert (
        f'name="step-due_date" required value="{working_days_after(timezone.localdate(), 1)}"'
        in html
    )
    assert 'name="step-due_time"' not in html and 'name="step-assignee"' not in html
    assert 'name="step-in_the_past"' not in html  # asked only for a date in the past


def test_quick_add_from_a_column_shows_the_next_step_on_the_new_card(client, alice, stages_a):
    client.force_login(alice)
    response = client.post(
        quick_url(stages_a[0]),
        {
            "title": "Cold storage",
            "value": "2500",
            "currency": "SEK",
            **step(**{"step-kind": "email"}),
        },
        **HTMX,
    )
    assert response.status_code == 200
    deal = Deal.objects.get(title="Cold storage")
    assert deal.stage == stages_a[0] and deal.owner == alice and deal.currency == "SEK"
    activity = Activity.objects.get(deal=deal)
    assert (activity.subject, activity.kind, activity.due_date, activity.assignee) == (
        "Call Jens about the budget",
        "email",
        tomorrow(),
        alice,
    )
    assert deal.next_step_id == activity.pk and not deal.needs_attention
    html = response.content.decode()
    card = html[html.index(f'id="deal-{deal.pk}"') :]
    card = card[: card.index("</article>")]
    assert "Call Jens about the budget" in card and "No next step" not in card


@pytest.mark.parametrize(
    "data",
    [
        step(subject=""),
        step(subject="   "),
        step(subject="x" * 201),
        {"step-subject": "Call", "step-kind": "call"},  # no date
        step(due="not a date"),
        step(**{"step-kind": "fax"}),
        step(due=timezone.localdate() + timedelta(days=4 * 365)),
        step(due=timezone.localdate() - timedelta(days=400), **{"step-in_the_past": "on"}),
    ],
    ids=[
        "no-subject",
        "blank-subject",
        "long-subject",
        "no-date",
        "bad-date",
        "bad-kind",
        "far-future",
        "far-past",
    ],
)
def test_quick_add_with_a_bad_next_step_is_400_and_creates_nothing(client, alice, stages_a, data):
    client.force_login(alice)
    response = client.post(
        quick_url(stages_a[0]),
        {"title": "Cold storage", "value": "1", "currency": "EUR", **data},
        **HTMX,
    )
    assert response.status_code == 400 and b"errorlist" in response.content
    assert 'value="Cold storage"' in response.content.decode()  # what was typed is kept
    assert nothing_created()


def test_quick_add_with_a_past_date_asks_first_and_saves_when_confirmed(client, alice, stages_a):
    client.force_login(alice)
    yesterday = timezone.localdate() - timedelta(days=1)
    data = {"title": "Late one", "value": "1", "currency": "EUR", **step(due=yesterday)}
    response = client.post(quick_url(stages_a[0]), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert "The next step is dated in the past" in html
    assert 'name="step-in_the_past"' in html and "Yes, it is in the past" in html
    assert nothing_created()

    response = client.post(quick_url(stages_a[0]), {**data, "step-in_the_past": "on"}, **HTMX)
    assert response.status_code == 200
    deal = Deal.objects.get(title="Late one")
    assert deal.next_step_due == yesterday
    assert Activity.objects.get(deal=deal).due_date == yesterday


def test_quick_add_today_needs_no_confirmation(client, alice, stages_a):
    client.force_login(alice)
    data = {"title": "Now", "value": "1", "currency": "EUR", **step(due=timezone.localdate())}
    assert client.post(quick_url(stages_a[0]), data, **HTMX).status_code == 200
    assert Deal.objects.get(title="Now").next_step_due == timezone.localdate()


def test_quick_add_with_bad_input_is_400_with_the_error_next_to_the_field(client, alice, stages_a):
    client.force_login(alice)
    response = client.post(
        quick_url(stages_a[0]), {"title": "", "value": "-5", "currency": "XXX", **step()}, **HTMX
    )
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert 'value="Call Jens about the budget"' in response.content.decode()
    assert nothing_created()


def test_quick_add_into_another_teams_column_is_404(client, carol, stages_a):
    client.force_login(carol)
    data = {"title": "x", "value": "1", "currency": "EUR", **step()}
    assert client.post(quick_url(stages_a[0]), data, **HTMX).status_code == 404
    assert client.get(quick_url(stages_a[0]), **HTMX).status_code == 404
    assert nothing_created()


def test_quick_add_gives_the_step_to_the_salesperson_whatever_is_posted(
    client, alice, alex, stages_a
):
    """Like the owner, the step's assignee is not the salesperson's to choose here."""
    client.force_login(alice)
    data = {"title": "Mine", "value": "1", "currency": "EUR", **step(**{"step-assignee": alex.pk})}
    assert client.post(quick_url(stages_a[0]), data, **HTMX).status_code == 200
    assert Activity.objects.get().assignee == alice


def test_past_is_judged_by_the_organisations_today(client, alice, stages_a, monkeypatch):
    """20:00 UTC on the 20th is already the 21st in Kiritimati (UTC+14): the 20th is past."""
    organisation(time_zone="Pacific/Kiritimati")
    now = datetime(2026, 11, 20, 20, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    monkeypatch.setattr(timezone, "now", lambda: now)
    client.force_login(alice)
    data = {"title": "Pacific", "value": "1", "currency": "EUR"}
    response = client.post(quick_url(stages_a[0]), {**data, **step(due=date(2026, 11, 20))}, **HTMX)
    assert response.status_code == 400 and nothing_created()
    assert "The next step is dated in the past" in response.content.decode()
    response = client.post(quick_url(stages_a[0]), {**data, **step(due=date(2026, 11, 21))}, **HTMX)
    assert response.status_code == 200
    assert Deal.objects.get().next_step_due == date(2026, 11, 21)


def full(client, pipeline_id, **data):
    return client.post(reverse("deal-create", args=[pipeline_id]), data)


def test_full_create_form_asks_for_the_first_next_step(client, alice, bob, stages_a):
    url = reverse("deal-create", args=[stages_a[0].pipeline_id])
    client.force_login(alice)
    html = client.get(url).content.decode()
    assert "First next step" in html and 'name="step-subject"' in html
    assert 'name="step-due_date"' in html and 'name="step-due_time"' in html
    assert 'name="step-kind" value="call"' in html
    assert 'name="step-assignee"' not in html  # salespeople do not choose who, as for owner
    client.force_login(bob)
    assert 'name="step-assignee"' in client.get(url).content.decode()


def test_full_create_form(client, bob, alex, stages_a):
    client.force_login(bob)
    url = reverse("deal-create", args=[stages_a[0].pipeline_id])
    assert client.get(url).status_code == 200
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="Big one",
        stage=stages_a[2].pk,
        owner=alex.pk,
        value="100000",
        currency="NOK",
        **step(subject="Demo at their site", **{"step-kind": "meeting", "step-due_time": "14:30"}),
    )
    deal = Deal.objects.get(title="Big one")
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    assert deal.owner == alex and deal.stage == stages_a[2]
    activity = Activity.objects.get(deal=deal)
    assert (activity.kind, activity.due_time, activity.assignee) == ("meeting", time(14, 30), alex)
    assert deal.next_step_subject == "Demo at their site"
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "Demo at their site" in page and "No next step" not in page


def test_manager_may_give_the_first_step_to_someone_else(client, bob, alex, stages_a):
    client.force_login(bob)
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="Shared",
        stage=stages_a[0].pk,
        owner=alex.pk,
        value="1",
        currency="EUR",
        **step(**{"step-assignee": bob.pk}),
    )
    assert response.status_code == 302
    assert Activity.objects.get().assignee == bob


def test_salesperson_cannot_give_the_first_step_to_someone_else(client, alice, alex, stages_a):
    client.force_login(alice)
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="Mine",
        stage=stages_a[0].pk,
        value="1",
        currency="EUR",
        **step(**{"step-assignee": alex.pk}),
    )
    assert response.status_code == 302
    assert Activity.objects.get().assignee == alice


def test_step_for_someone_outside_the_team_is_400_and_creates_nothing(client, bob, carol, stages_a):
    client.force_login(bob)
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="x",
        stage=stages_a[0].pk,
        value="1",
        currency="EUR",
        **step(**{"step-assignee": carol.pk}),
    )
    assert response.status_code == 400 and nothing_created()


def test_full_create_without_a_next_step_is_400_and_creates_nothing(client, alice, stages_a):
    client.force_login(alice)
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="No step",
        stage=stages_a[0].pk,
        value="1",
        currency="EUR",
    )
    assert response.status_code == 400 and nothing_created()
    html = response.content.decode()
    assert "errorlist" in html and 'value="No step"' in html


def test_full_create_with_a_past_date_asks_first_and_saves_when_confirmed(client, alice, stages_a):
    client.force_login(alice)
    last_week = timezone.localdate() - timedelta(days=7)
    data = {
        "title": "Old lead",
        "stage": stages_a[0].pk,
        "value": "1",
        "currency": "EUR",
        **step(due=last_week),
    }
    response = full(client, stages_a[0].pipeline_id, **data)
    html = response.content.decode()
    assert response.status_code == 400 and nothing_created()
    assert "The next step is dated in the past" in html
    assert 'name="step-in_the_past"' in html
    response = full(client, stages_a[0].pipeline_id, **data, **{"step-in_the_past": "on"})
    assert response.status_code == 302
    assert Deal.objects.get().next_step_due == last_week


def test_full_create_in_another_teams_pipeline_is_404(client, carol, stages_a):
    client.force_login(carol)
    url = reverse("deal-create", args=[stages_a[0].pipeline_id])
    assert client.get(url).status_code == 404
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="x",
        stage=stages_a[0].pk,
        value="1",
        currency="EUR",
        **step(),
    )
    assert response.status_code == 404 and nothing_created()


def test_full_create_rejects_a_stage_of_another_pipeline(client, admin, stages_a, stages_b):
    client.force_login(admin)
    response = full(
        client,
        stages_a[0].pipeline_id,
        title="x",
        stage=stages_b[0].pk,
        value="1",
        currency="EUR",
        **step(),
    )
    assert response.status_code == 400 and nothing_created()


def test_salesperson_form_has_no_owner_field(client, alice, stages_a):
    client.force_login(alice)
    html = client.get(reverse("deal-create", args=[stages_a[0].pipeline_id])).content.decode()
    assert 'name="owner"' not in html


# --- edit -----------------------------------------------------------------------------------


def edit(client, deal, **changes):
    data = {
        "title": deal.title,
        "value": deal.value,
        "currency": deal.currency,
        "version": deal.version,
    }
    data.update(changes)
    return client.post(reverse("deal-update", args=[deal.pk]), data)


def test_edit_saves_and_bumps_the_version(client, alice, deal):
    client.force_login(alice)
    response = edit(client, deal, title="Forklifts x 40", need_confirmed="on")
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.title == "Forklifts x 40" and deal.need_confirmed and deal.version == 2


def test_stale_edit_is_409_shows_both_versions_and_overwrites_nothing(client, alice, bob, deal):
    client.force_login(bob)
    edit(client, deal, title="Bob's title")
    client.force_login(alice)
    response = edit(client, deal, title="Alice's title")  # still carries version 1
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else saved this deal" in html
    assert "Bob&#x27;s title" in html and "Alice&#x27;s title" in html
    assert Deal.objects.get(pk=deal.pk).title == "Bob's title"


def test_stale_edit_form_never_moves_the_deal_back(client, alice, deal, stages_a):
    client.force_login(alice)
    move(client, deal, stages_a[2])
    edit(client, deal, title="Still here", version=2, stage=stages_a[0].pk)
    deal.refresh_from_db()
    assert deal.stage == stages_a[2] and deal.title == "Still here"


def test_outsider_edit_is_404_and_read_only_edit_is_403(client, carol, alex, deal):
    before = snapshot(deal)
    client.force_login(carol)
    assert edit(client, deal, title="hacked").status_code == 404
    assert client.get(deal.get_absolute_url()).status_code == 404
    client.force_login(alex)
    assert edit(client, deal, title="hacked").status_code == 403
    assert snapshot(deal) == before


def test_read_only_user_sees_the_deal_without_forms(client, alex, deal):
    client.force_login(alex)
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "Forklifts" in html and reverse("deal-update", args=[deal.pk]) not in html


def test_bad_edit_is_400_with_errors_and_nothing_changes(client, alice, deal):
    before = snapshot(deal)
    client.force_login(alice)
    response = edit(client, deal, title="", value="-1")
    assert response.status_code == 400 and b"errorlist" in response.content
    assert snapshot(deal) == before


def test_salesperson_cannot_reassign_by_posting_owner(client, alice, alex, deal):
    client.force_login(alice)
    edit(client, deal, owner=alex.pk, title="x")
    assert Deal.objects.get(pk=deal.pk).owner.username == "alice"


# --- won, lost, reopen, delete --------------------------------------------------------------


def test_won_from_the_card_removes_it_from_the_column(client, alice, deal, stages_a):
    client.force_login(alice)
    response = client.post(
        reverse("deal-won", args=[deal.pk]), {"version": 1, "from": "board"}, **HTMX
    )
    assert response.status_code == 200
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.WON
    html = response.content.decode()
    assert f'id="stage-{stages_a[0].pk}-cards" hx-swap-oob="innerHTML"' in html
    assert f'id="deal-{deal.pk}"' not in html
    assert "marked as won" in html


def test_lost_needs_a_reason(client, alice, deal):
    client.force_login(alice)
    url = reverse("deal-lost", args=[deal.pk])
    assert client.get(url, **HTMX).status_code == 200
    response = client.post(url, {"version": 1, "from": "board"}, **HTMX)
    assert response.status_code == 400 and b"errorlist" in response.content
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_lost_with_reason_records_the_stage(client, alice, deal, stages_a):
    reason = LostReason.objects.get(name="Price too high")
    client.force_login(alice)
    response = client.post(
        reverse("deal-lost", args=[deal.pk]),
        {"version": 1, "reason": reason.pk, "note": "20% over"},
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST and deal.lost_from_stage == stages_a[0]
    assert deal.lost_note == "20% over"


def test_reopen_puts_a_closed_deal_back(client, alice, deal):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.WON, version=2)
    client.force_login(alice)
    response = client.post(reverse("deal-reopen", args=[deal.pk]), {"version": 2})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


@pytest.mark.parametrize("name", ["deal-won", "deal-lost", "deal-reopen", "deal-note-create"])
def test_outsider_404_and_read_only_403_on_status_changes(client, carol, alex, deal, name):
    before = snapshot(deal)
    reason = LostReason.objects.first()
    data = {"version": 1, "reason": reason.pk, "body": "x"}
    client.force_login(carol)
    assert client.post(reverse(name, args=[deal.pk]), data).status_code == 404
    client.force_login(alex)
    assert client.post(reverse(name, args=[deal.pk]), data).status_code == 403
    assert snapshot(deal) == before
    assert deal.notes.count() == 0


def test_stale_won_is_409(client, alice, deal):
    client.force_login(alice)
    response = client.post(reverse("deal-won", args=[deal.pk]), {"version": 5}, **HTMX)
    assert response.status_code == 409
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_bad_version_is_400(client, alice, deal):
    client.force_login(alice)
    assert client.post(reverse("deal-won", args=[deal.pk]), {"version": "x"}).status_code == 400
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_only_managers_delete(client, alice, bob, carol, deal):
    url = reverse("deal-delete", args=[deal.pk])
    client.force_login(carol)
    assert client.post(url).status_code == 404
    client.force_login(alice)
    assert client.post(url).status_code == 403
    assert Deal.objects.filter(pk=deal.pk).exists()
    client.force_login(bob)
    assert client.post(url).status_code == 302
    assert not Deal.objects.filter(pk=deal.pk).exists()


def test_notes_on_a_deal(client, alice, deal):
    client.force_login(alice)
    url = reverse("deal-note-create", args=[deal.pk])
    assert client.post(url, {"body": ""}).status_code == 400
    assert client.post(url, {"body": "x" * 5001}).status_code == 400
    assert deal.notes.count() == 0
    assert client.post(url, {"body": "Called <b>Anna</b>"}).status_code == 302
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "Called &lt;b&gt;Anna&lt;/b&gt;" in html
