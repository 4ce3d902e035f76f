"""Next-step write paths (plan, change, complete, pause, resume): the happy path, the outsider
(404), the read-only colleague (403) and bad input (400), each asserting that nothing changed,
for the htmx and the plain path; the assignee who completes their own step; the cards; and
"My next steps" grouped in the organisation's time zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from unittest.mock import patch

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline import services
from pipeline.models import Activity, Deal, DealStatus, Flag, FlagKind, StageChange
from tests.factories import DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def deal(stages_a, alice):
    return DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")


@pytest.fixture
def step(deal, alice):
    return services.activity_create(
        acting_user=alice,
        deal=deal,
        subject="Call Jens",
        due_date=timezone.localdate() + timedelta(days=2),
    )


def activities(deal):
    return list(
        Activity.objects.filter(deal=deal)
        .order_by("pk")
        .values_list("subject", "due_date", "assignee_id", "done_at")
    )


def deal_state(deal):
    row = Deal.objects.get(pk=deal.pk)
    return (row.status, row.version, row.next_step_id, row.paused_until, row.pause_reason)


def new_step(**extra):
    data = {
        "kind": "meeting",
        "subject": "Demo at the warehouse",
        "due_date": (timezone.localdate() + timedelta(days=3)).isoformat(),
        "due_time": "10:30",
        **extra,
    }
    return data


def settle_trigger(response) -> dict:
    return json.loads(response.get("HX-Trigger-After-Settle", "{}"))


# --- plan a next step -------------------------------------------------------------------


def test_form_opens_in_the_modal_with_the_teams_people_and_the_owner_chosen(
    client, alice, bob, carol, deal
):
    client.force_login(bob)
    response = client.get(reverse("activity-create", args=[deal.pk]) + "?from=board", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Plan the next step" in html and 'hx-include="#board-filters"' in html
    assert f'<option value="{alice.pk}" selected>' in html
    assert "Bob Berg" in html and "Carol" not in html
    assert "<html" not in html  # a fragment for the modal, not a page


def test_plain_get_is_a_page(client, alice, deal):
    client.force_login(alice)
    response = client.get(reverse("activity-create", args=[deal.pk]))
    assert response.status_code == 200 and "<html" in response.content.decode()


def test_planning_from_the_board_answers_with_the_column_and_closes_the_modal(
    client, alice, deal, stages_a
):
    client.force_login(alice)
    board = client.get(reverse("board", args=[deal.pipeline_id])).content.decode()
    assert "No next step" in board
    response = client.post(
        reverse("activity-create", args=[deal.pk]), new_step(**{"from": "board"}), **HTMX
    )
    assert response.status_code == 200
    assert "modal:close" in settle_trigger(response)
    html = response.content.decode()
    assert f'id="stage-{stages_a[0].pk}-cards" hx-swap-oob="innerHTML"' in html
    assert "Demo at the warehouse" in html and "No next step" not in html
    activity = Activity.objects.get(deal=deal)
    assert (activity.kind, activity.assignee, activity.due_time.hour) == ("meeting", alice, 10)
    assert Deal.objects.get(pk=deal.pk).next_step == activity


def test_planning_with_the_plain_form_redirects_to_the_deal(client, alice, deal):
    client.force_login(alice)
    response = client.post(reverse("activity-create", args=[deal.pk]), new_step(due_time=""))
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    assert Deal.objects.get(pk=deal.pk).next_step_subject == "Demo at the warehouse"


def test_planning_from_the_deal_page_with_htmx_reloads_the_deal(client, alice, deal):
    client.force_login(alice)
    response = client.post(
        reverse("activity-create", args=[deal.pk]), new_step(**{"from": "deal"}), **HTMX
    )
    assert response.status_code == 200 and response["HX-Redirect"] == deal.get_absolute_url()


def test_planning_resolves_the_no_next_step_flag_at_once(client, alice, deal):
    Flag.objects.create(deal=deal, kind=FlagKind.NO_NEXT_STEP)
    client.force_login(alice)
    client.post(reverse("activity-create", args=[deal.pk]), new_step())
    assert not Flag.objects.filter(deal=deal, resolved_at__isnull=True).exists()
    assert not Deal.objects.get(pk=deal.pk).needs_attention


def test_outsider_planning_gets_404_and_nothing_changes(client, carol, deal):
    before = (activities(deal), deal_state(deal))
    client.force_login(carol)
    url = reverse("activity-create", args=[deal.pk])
    assert client.get(url, **HTMX).status_code == 404
    assert client.post(url, new_step(), **HTMX).status_code == 404
    assert client.post(url, new_step()).status_code == 404
    assert (activities(deal), deal_state(deal)) == before


def test_colleague_planning_on_someone_elses_deal_gets_403_and_nothing_changes(client, alex, deal):
    before = (activities(deal), deal_state(deal))
    client.force_login(alex)
    url = reverse("activity-create", args=[deal.pk])
    response = client.post(url, new_step(), **HTMX)
    assert response.status_code == 403 and response["HX-Retarget"] == "#toasts"
    assert client.post(url, new_step()).status_code == 403
    assert (activities(deal), deal_state(deal)) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"subject": ""},
        {"subject": "x" * 201},
        {"kind": "party"},
        {"due_date": "tomorrow"},
        {"due_date": ""},
        {"due_date": "2999-01-01"},
        {"due_time": "25:61"},
        {"assignee": "abc"},
        {"assignee": "999999"},
    ],
)
def test_bad_input_is_400_and_nothing_changes(client, alice, deal, bad):
    before = (activities(deal), deal_state(deal))
    client.force_login(alice)
    url = reverse("activity-create", args=[deal.pk])
    response = client.post(url, new_step(**{"from": "board", **bad}), **HTMX)
    assert response.status_code == 400
    assert "Plan the next step" in response.content.decode()  # the form again, with errors
    assert client.post(url, new_step(**bad)).status_code == 400
    assert (activities(deal), deal_state(deal)) == before


def test_person_from_another_team_is_not_a_valid_assignee(client, alice, carol, deal):
    client.force_login(alice)
    response = client.post(reverse("activity-create", args=[deal.pk]), new_step(assignee=carol.pk))
    assert response.status_code == 400
    assert not Activity.objects.filter(deal=deal).exists()


def test_closed_deal_refuses_a_next_step_with_400(client, alice, deal):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.WON)
    client.force_login(alice)
    response = client.post(reverse("activity-create", args=[deal.pk]), new_step(), **HTMX)
    assert response.status_code == 400 and "closed" in response.content.decode()
    assert not Activity.objects.filter(deal=deal).exists()


def test_owner_and_team_are_never_taken_from_the_request(client, alice, deal, stages_b):
    client.force_login(alice)
    client.post(
        reverse("activity-create", args=[deal.pk]),
        new_step(deal=999, done_at="2020-01-01", created_by=1),
    )
    activity = Activity.objects.get(deal=deal)
    assert activity.done_at is None and activity.created_by == alice


# --- change the next step ---------------------------------------------------------------


def test_changing_from_the_board_saves_and_refreshes_the_column(client, alice, step, deal):
    client.force_login(alice)
    url = reverse("activity-update", args=[step.pk])
    form = client.get(url + "?from=board", **HTMX).content.decode()
    assert "Change the next step" in form and 'value="Call Jens"' in form
    response = client.post(url, new_step(subject="Call Jens again", **{"from": "board"}), **HTMX)
    assert response.status_code == 200 and "modal:close" in settle_trigger(response)
    assert "Call Jens again" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).next_step_subject == "Call Jens again"


def test_changing_with_the_plain_form_redirects(client, bob, step, deal):
    client.force_login(bob)
    response = client.post(reverse("activity-update", args=[step.pk]), new_step())
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.subject == "Demo at the warehouse"


def test_outsider_changing_gets_404_and_nothing_changes(client, carol, step, deal):
    before = activities(deal)
    client.force_login(carol)
    url = reverse("activity-update", args=[step.pk])
    assert client.get(url, **HTMX).status_code == 404
    assert client.post(url, new_step(), **HTMX).status_code == 404
    assert activities(deal) == before


def test_assignee_who_may_not_edit_the_deal_may_not_change_the_step(client, alex, deal, alice):
    activity = services.activity_create(
        acting_user=alice,
        deal=deal,
        subject="Alex calls",
        due_date=timezone.localdate(),
        assignee=alex,
    )
    before = activities(deal)
    client.force_login(alex)
    response = client.post(reverse("activity-update", args=[activity.pk]), new_step(), **HTMX)
    assert response.status_code == 403
    assert activities(deal) == before


@pytest.mark.parametrize("bad", [{"subject": ""}, {"due_date": "31/02/2025"}, {"kind": "x"}])
def test_bad_change_is_400_and_nothing_changes(client, alice, step, deal, bad):
    before = (activities(deal), deal_state(deal))
    client.force_login(alice)
    url = reverse("activity-update", args=[step.pk])
    assert client.post(url, new_step(**bad), **HTMX).status_code == 400
    assert client.post(url, new_step(**bad)).status_code == 400
    assert (activities(deal), deal_state(deal)) == before


def test_a_done_step_cannot_be_changed(client, alice, step, deal):
    services.activity_complete(acting_user=alice, activity=step)
    before = activities(deal)
    client.force_login(alice)
    response = client.post(reverse("activity-update", args=[step.pk]), new_step(), **HTMX)
    assert response.status_code == 400
    assert activities(deal) == before


# --- complete ---------------------------------------------------------------------------


def test_done_on_the_board_asks_for_the_following_step_and_refreshes_the_column(
    client, alice, step, deal, stages_a
):
    client.force_login(alice)
    response = client.post(reverse("activity-complete", args=[step.pk]), {"from": "board"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "What&#x27;s the next step?" in html or "What's the next step?" in html
    assert "Done: Call Jens" in html
    assert f'id="stage-{stages_a[0].pk}-cards" hx-swap-oob="innerHTML"' in html
    assert "No next step" in html  # the card, refreshed out of band
    step.refresh_from_db()
    assert step.done_at is not None
    assert Deal.objects.get(pk=deal.pk).next_step is None
    # The following step's date defaults to two working days ahead.
    assert 'name="due_date" value="' in html


def test_done_with_another_step_planned_does_not_ask_again(client, alice, step, deal):
    services.activity_create(
        acting_user=alice, deal=deal, subject="Send offer", due_date=timezone.localdate()
    )
    client.force_login(alice)
    response = client.post(reverse("activity-complete", args=[step.pk]), {"from": "board"}, **HTMX)
    assert response.status_code == 200
    assert "next step?" not in response.content.decode()


def test_done_with_the_plain_form_redirects_to_the_deal(client, alice, step, deal):
    client.force_login(alice)
    response = client.post(reverse("activity-complete", args=[step.pk]))
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    step.refresh_from_db()
    assert step.done_at is not None


def test_done_from_my_next_steps_replaces_the_row_and_asks_for_the_following_step(
    client, alice, step
):
    client.force_login(alice)
    response = client.post(
        reverse("activity-complete", args=[step.pk]), {"from": "next-steps"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="activity-{step.pk}" hx-swap-oob="outerHTML"' in html
    assert "is-done" in html and "next step?" in html
    plain = client.post(reverse("activity-complete", args=[step.pk]), {"from": "next-steps"})
    assert plain["Location"] == reverse("my-next-steps")


def test_assignee_may_complete_their_step_on_a_deal_they_cannot_edit(client, alice, alex, deal):
    activity = services.activity_create(
        acting_user=alice,
        deal=deal,
        subject="Alex visits",
        due_date=timezone.localdate(),
        assignee=alex,
    )
    client.force_login(alex)
    response = client.post(
        reverse("activity-complete", args=[activity.pk]), {"from": "board"}, **HTMX
    )
    assert response.status_code == 200
    # They may not plan on alice's deal, so they are not asked for the following step.
    assert "next step?" not in response.content.decode()
    activity.refresh_from_db()
    assert activity.done_at is not None


def test_colleague_who_is_not_the_assignee_gets_403_and_nothing_changes(client, alex, step, deal):
    before = (activities(deal), deal_state(deal))
    client.force_login(alex)
    url = reverse("activity-complete", args=[step.pk])
    assert client.post(url, {"from": "board"}, **HTMX).status_code == 403
    assert client.post(url).status_code == 403
    assert (activities(deal), deal_state(deal)) == before


def test_outsider_completing_gets_404_and_nothing_changes(client, carol, step, deal):
    before = (activities(deal), deal_state(deal))
    client.force_login(carol)
    url = reverse("activity-complete", args=[step.pk])
    assert client.post(url, **HTMX).status_code == 404
    assert client.post(url).status_code == 404
    assert client.post(reverse("activity-complete", args=[999999])).status_code == 404
    assert (activities(deal), deal_state(deal)) == before


def test_completing_needs_post(client, alice, step):
    client.force_login(alice)
    assert client.get(reverse("activity-complete", args=[step.pk])).status_code == 405
    step.refresh_from_db()
    assert step.done_at is None


def test_completing_on_a_closed_deal_is_400_and_nothing_changes(client, alice, step, deal):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.LOST)
    client.force_login(alice)
    response = client.post(reverse("activity-complete", args=[step.pk]), **HTMX)
    assert response.status_code == 400
    step.refresh_from_db()
    assert step.done_at is None


# --- pause and resume -------------------------------------------------------------------


def pause_data(deal, **extra):
    until = timezone.localdate() + timedelta(days=20)
    return {"until": until.isoformat(), "reason": "Waiting for budget", "version": deal.version}


def test_pause_and_resume_from_the_deal_page(client, alice, deal):
    client.force_login(alice)
    response = client.post(reverse("deal-pause", args=[deal.pk]), pause_data(deal))
    assert response.status_code == 302
    row = Deal.objects.get(pk=deal.pk)
    assert row.status == DealStatus.PAUSED and row.pause_reason == "Waiting for budget"
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "Paused until" in page and "Waiting for budget" in page and "Resume now" in page
    closed = client.get(reverse("closed-deals", args=[deal.pipeline_id])).content.decode()
    assert "Won, lost and paused" in closed and "Waiting for budget" in closed
    response = client.post(reverse("deal-resume", args=[deal.pk]), {"version": row.version})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_outsider_pausing_or_resuming_gets_404_and_nothing_changes(client, carol, deal):
    before = deal_state(deal)
    client.force_login(carol)
    assert client.post(reverse("deal-pause", args=[deal.pk]), pause_data(deal)).status_code == 404
    assert client.post(reverse("deal-resume", args=[deal.pk])).status_code == 404
    assert deal_state(deal) == before


def test_colleague_pausing_gets_403_and_nothing_changes(client, alex, deal):
    before = deal_state(deal)
    client.force_login(alex)
    assert client.post(reverse("deal-pause", args=[deal.pk]), pause_data(deal)).status_code == 403
    assert client.post(reverse("deal-resume", args=[deal.pk])).status_code == 403
    assert deal_state(deal) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"until": ""},
        {"until": "not a date"},
        {"until": "2000-01-01"},
        {"until": "2999-01-01"},
        {"reason": ""},
        {"reason": "x" * 201},
        {"version": "abc"},
    ],
)
def test_bad_pause_is_400_and_nothing_changes(client, alice, deal, bad):
    before = deal_state(deal)
    client.force_login(alice)
    response = client.post(reverse("deal-pause", args=[deal.pk]), {**pause_data(deal), **bad})
    assert response.status_code == 400
    assert deal_state(deal) == before


def test_stale_pause_is_refused_and_nothing_changes(client, alice, deal):
    before = deal_state(deal)
    client.force_login(alice)
    data = {**pause_data(deal), "version": deal.version + 5}
    response = client.post(reverse("deal-pause", args=[deal.pk]), data)
    assert response.status_code == 302  # back to the deal, with a message
    assert deal_state(deal) == before


# --- the deal page ----------------------------------------------------------------------


def test_deal_page_shows_the_next_step_and_one_timeline(client, alice, deal, stages_a, step):
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=None)
    done = services.activity_create(
        acting_user=alice, deal=deal, subject="Intro call", due_date=timezone.localdate()
    )
    services.activity_complete(acting_user=alice, activity=done)
    client.force_login(alice)
    html = client.get(deal.get_absolute_url()).content.decode()
    panel = html[
        html.index('id="next-step"') : html.index("</section>", html.index('id="next-step"'))
    ]
    assert "Call Jens" in panel and "Done" in panel and "Change" in panel
    timeline = html[html.index("Timeline") :]
    # Newest first: the planned call (due in two days), the done intro call, then the move.
    order = [timeline.index(t) for t in ("Call Jens", "Intro call", "Moved from")]
    assert order == sorted(order)


def test_deal_page_without_a_next_step_offers_the_form(client, alice, deal):
    client.force_login(alice)
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "No next step" in html and reverse("activity-create", args=[deal.pk]) in html


def test_deal_page_timeline_does_not_query_per_entry(client, alice, deal):
    client.force_login(alice)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(deal.get_absolute_url()).status_code == 200
        return len(queries)

    for i in range(2):
        services.activity_create(
            acting_user=alice, deal=deal, subject=f"Step {i}", due_date=timezone.localdate()
        )
    few = count()
    for i in range(20):
        services.activity_create(
            acting_user=alice, deal=deal, subject=f"More {i}", due_date=timezone.localdate()
        )
        StageChange.objects.create(deal=deal, from_stage=deal.stage, to_stage=deal.stage)
    assert count() == few


# --- the cards --------------------------------------------------------------------------


def test_cards_show_the_next_step_overdue_and_stale_with_reasons(client, alice, bob, stages_a):
    now = timezone.now()
    planned = DealFactory(stage=stages_a[0], owner=alice, title="Planned")
    services.activity_create(
        acting_user=alice,
        deal=planned,
        subject="Visit the site",
        due_date=timezone.localdate() + timedelta(days=3),
        assignee=bob,
    )
    late = DealFactory(stage=stages_a[0], owner=alice, title="Late")
    services.activity_create(
        acting_user=alice,
        deal=late,
        subject="Send the offer",
        due_date=timezone.localdate() - timedelta(days=4),
    )
    Flag.objects.create(deal=late, kind=FlagKind.OVERDUE_NEXT_STEP)
    stale = DealFactory(stage=stages_a[0], owner=alice, title="Stale")
    Deal.objects.filter(pk=stale.pk).update(
        last_movement_at=now - timedelta(days=23), rots_at=now - timedelta(days=9)
    )
    client.force_login(alice)
    html = client.get(reverse("board", args=[stages_a[0].pipeline_id])).content.decode()

    def card(deal):
        start = html.rindex("<article", 0, html.index(f'id="deal-{deal.pk}"'))
        return html[start : html.index("</article>", start)]

    assert "Visit the site" in card(planned) and ">BB<" in card(planned)  # assignee initials
    assert "No next step" not in card(planned)
    assert "is-overdue" in card(late) and "Overdue since" in card(late) and "Due " in card(late)
    assert "is-stale" in card(stale)
    assert "No movement for 23 days; this stage allows 14" in card(stale)
    assert "No next step" in card(stale)


# --- my next steps ----------------------------------------------------------------------


def at_copenhagen(deal, user, due: date, subject: str):
    return Activity.objects.create(deal=deal, subject=subject, due_date=due, assignee=user)


def groups(response) -> dict[str, list[str]]:
    steps = response.context["steps"]
    return {
        name: [a.subject for a in getattr(steps, name)]
        for name in ("overdue", "today", "this_week", "later")
    }


@pytest.mark.parametrize(
    ("moment", "today"),
    [
        # 23:30 UTC on Monday 10 March is 00:30 on Tuesday the 11th in Copenhagen (CET).
        (datetime(2025, 3, 10, 23, 30, tzinfo=UTC), date(2025, 3, 11)),
        # 22:30 UTC on the 10th is still Monday the 10th in Copenhagen.
        (datetime(2025, 3, 10, 22, 30, tzinfo=UTC), date(2025, 3, 10)),
        # After the spring DST change (30 March): 22:30 UTC is 00:30 on Monday the 31st (CEST).
        (datetime(2025, 3, 30, 22, 30, tzinfo=UTC), date(2025, 3, 31)),
    ],
)
def test_my_next_steps_groups_by_the_organisations_date(
    client, alice, deal, settings, moment, today
):
    assert settings.TIME_ZONE == "Europe/Copenhagen"
    at_copenhagen(deal, alice, today - timedelta(days=1), "yesterday")
    at_copenhagen(deal, alice, today, "today")
    sunday = today + timedelta(days=6 - today.weekday())
    if sunday != today:
        at_copenhagen(deal, alice, sunday, "sunday")
    at_copenhagen(deal, alice, sunday + timedelta(days=1), "next monday")
    client.force_login(alice)
    with patch("django.utils.timezone.now", return_value=moment):
        response = client.get(reverse("my-next-steps"))
    assert response.status_code == 200
    found = groups(response)
    assert found["overdue"] == ["yesterday"]
    assert found["today"] == ["today"]
    assert found["this_week"] == ([] if sunday == today else ["sunday"])
    assert found["later"] == ["next monday"]


def test_my_next_steps_lists_only_my_open_steps_on_deals_i_see(
    client, alice, bob, carol, deal, stages_b
):
    today = timezone.localdate()
    at_copenhagen(deal, alice, today, "mine")
    at_copenhagen(deal, bob, today, "bob's")
    Activity.objects.create(
        deal=deal, subject="done already", due_date=today, assignee=alice, done_at=timezone.now()
    )
    won = DealFactory(stage=deal.stage, owner=alice, status=DealStatus.WON)
    at_copenhagen(won, alice, today, "on a won deal")
    foreign = DealFactory(stage=stages_b[0], owner=carol)
    at_copenhagen(foreign, alice, today, "on another team's deal")
    client.force_login(alice)
    response = client.get(reverse("my-next-steps"))
    assert groups(response)["today"] == ["mine"]
    html = response.content.decode()
    assert "another team" not in html and "bob&#x27;s" not in html


def test_my_next_steps_has_an_empty_state_and_needs_login(client, alice):
    assert client.get(reverse("my-next-steps")).status_code == 302
    client.force_login(alice)
    html = client.get(reverse("my-next-steps")).content.decode()
    assert "Nothing to do right now" in html
    assert reverse("my-next-steps") in html  # the nav link


def test_planning_from_my_next_steps_refreshes_the_list(client, alice, deal):
    client.force_login(alice)
    response = client.post(
        reverse("activity-create", args=[deal.pk]),
        new_step(due_date=timezone.localdate().isoformat(), **{"from": "next-steps"}),
        **HTMX,
    )
    assert response.status_code == 200 and "modal:close" in settle_trigger(response)
    html = response.content.decode()
    assert 'id="next-steps" class="steps-groups" hx-swap-oob="outerHTML"' in html
    assert "Demo at the warehouse" in html
