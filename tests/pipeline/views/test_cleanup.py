"""The managers' clean-up list: open deals past the qualification stage lacking a fact, and
the in-place fixes (tick a fact, pause, move back), each with its negative paths."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pipeline.models import Deal, DealStatus, StageChange
from tests.factories import DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
URL = "/cleanup/"


@pytest.fixture
def qualified(pipeline_a, stages_a):
    """New business: qualification complete after "Qualified"."""
    pipeline_a.qualified_after_stage = stages_a[1]
    pipeline_a.save()
    return stages_a[1]


@pytest.fixture
def deals(alice, stages_a, qualified):
    return {
        "lacking": DealFactory(
            stage=stages_a[2], owner=alice, title="Proposal lacking", need_confirmed=True
        ),
        "complete": DealFactory(
            stage=stages_a[3],
            owner=alice,
            title="Negotiation complete",
            need_confirmed=True,
            decision_maker_known=True,
            timeline_confirmed=True,
        ),
        "early": DealFactory(stage=stages_a[1], owner=alice, title="Still qualifying"),
        "won": DealFactory(stage=stages_a[3], owner=alice, title="Already won", status="won"),
    }


def snapshot(deal):
    row = Deal.objects.get(pk=deal.pk)
    return (
        row.stage_id,
        row.status,
        row.version,
        row.need_confirmed,
        row.decision_maker_known,
        row.timeline_confirmed,
        StageChange.objects.filter(deal=row).count(),
    )


def test_lists_open_deals_past_qualification_lacking_a_fact(client, bob, deals):
    client.force_login(bob)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Proposal lacking" in html
    assert "Negotiation complete" not in html
    assert "Still qualifying" not in html
    assert "Already won" not in html
    assert "All three facts are due once a deal is past Qualified" in html
    # Which facts are missing: two buttons to tick, one known.
    row = html[html.index(f'id="cleanup-{deals["lacking"].pk}"') :]
    row = row[: row.index("</tr>")]
    assert row.count('name="fact"') == 2
    assert 'value="decision_maker_known"' in row and 'value="timeline_confirmed"' in row


def test_salesperson_gets_403(client, alice, deals):
    client.force_login(alice)
    assert client.get(URL).status_code == 403


def test_manager_sees_only_their_teams(client, bob, deals, carol, stages_b, pipeline_b):
    pipeline_b.qualified_after_stage = stages_b[0]
    pipeline_b.save()
    DealFactory(stage=stages_b[1], owner=carol, title="South secret")
    client.force_login(bob)
    html = client.get(URL).content.decode()
    assert "South secret" not in html and "South business" not in html


def test_admin_sees_every_team(client, admin, deals, carol, stages_b, pipeline_b):
    pipeline_b.qualified_after_stage = stages_b[0]
    pipeline_b.save()
    DealFactory(stage=stages_b[1], owner=carol, title="South secret")
    client.force_login(admin)
    html = client.get(URL).content.decode()
    assert "South secret" in html and "Proposal lacking" in html


def test_empty_states(client, bob, pipeline_a, stages_a, qualified, alice):
    client.force_login(bob)
    assert "Nothing to clean up here" in client.get(URL).content.decode()
    pipeline_a.qualified_after_stage = None
    pipeline_a.save()
    assert "No pipeline has a qualification stage yet" in client.get(URL).content.decode()


def test_query_count_is_the_same_for_few_and_many_rows(client, bob, alice, stages_a, qualified):
    """Queries: user (the session comes from the shared cache), memberships (access),
    pipelines, count, rows, stages."""
    client.force_login(bob)
    DealFactory(stage=stages_a[2], owner=alice)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for _ in range(20):
        DealFactory(stage=stages_a[3], owner=alice)
    with CaptureQueriesContext(connection) as many:
        client.get(URL)
    assert len(few) == len(many) == 5


# --- tick a fact --------------------------------------------------------------------------


def fact(client, deal, name="decision_maker_known", version=None, **headers):
    data = {"fact": name, "version": version or deal.version}
    return client.post(reverse("cleanup-fact", args=[deal.pk]), data, **headers)


def test_ticking_a_fact_in_place_answers_with_the_row(client, bob, deals):
    client.force_login(bob)
    response = fact(client, deals["lacking"], **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="cleanup-{deals["lacking"].pk}"')
    assert "Decision maker known: recorded." in html
    deal = Deal.objects.get(pk=deals["lacking"].pk)
    assert deal.decision_maker_known and deal.version == 2


def test_ticking_the_last_fact_takes_the_deal_off_the_list(client, bob, deals):
    deal = deals["lacking"]
    Deal.objects.filter(pk=deal.pk).update(decision_maker_known=True)
    client.force_login(bob)
    html = fact(client, deal, "timeline_confirmed", **HTMX).content.decode()
    assert "It has left the list." in html
    assert "Proposal lacking" not in client.get(URL).content.decode()


def test_ticking_a_fact_without_javascript_redirects_to_the_list(client, bob, deals):
    client.force_login(bob)
    response = fact(client, deals["lacking"])
    assert response.status_code == 302 and response["Location"].startswith(URL)
    assert Deal.objects.get(pk=deals["lacking"].pk).decision_maker_known


def test_fact_outsider_404_salesperson_403_bad_input_400_stale_409(
    client, bob, alice, carol, deals
):
    deal = deals["lacking"]
    before = snapshot(deal)
    client.force_login(carol)
    assert fact(client, deal, **HTMX).status_code == 404
    client.force_login(alice)  # owner, but the clean-up actions are the manager's
    assert fact(client, deal, **HTMX).status_code == 403
    client.force_login(bob)
    assert fact(client, deal, "owner", **HTMX).status_code == 400
    assert fact(client, deal, version="x", **HTMX).status_code == 400
    assert fact(client, deal, version=99, **HTMX).status_code == 409
    assert snapshot(deal) == before


# --- pause and move back ------------------------------------------------------------------


def test_pause_in_place(client, bob, deals):
    client.force_login(bob)
    until = timezone.localdate() + timedelta(days=20)
    response = client.post(
        reverse("cleanup-pause", args=[deals["lacking"].pk]),
        {"version": 1, "until": until.isoformat(), "reason": "Budget next year"},
        **HTMX,
    )
    assert response.status_code == 200
    assert "It has left the list." in response.content.decode()
    deal = Deal.objects.get(pk=deals["lacking"].pk)
    assert deal.status == DealStatus.PAUSED and deal.paused_until == until


def test_pause_with_a_past_date_is_400_and_changes_nothing(client, bob, deals):
    client.force_login(bob)
    before = snapshot(deals["lacking"])
    response = client.post(
        reverse("cleanup-pause", args=[deals["lacking"].pk]),
        {"version": 1, "until": "2000-01-01", "reason": "x"},
        **HTMX,
    )
    assert response.status_code == 400
    assert snapshot(deals["lacking"]) == before


def test_move_back_in_place(client, bob, deals, stages_a):
    client.force_login(bob)
    response = client.post(
        reverse("cleanup-move-back", args=[deals["lacking"].pk]), {"version": 1}, **HTMX
    )
    assert response.status_code == 200
    assert "Moved back to Qualified." in response.content.decode()
    deal = Deal.objects.get(pk=deals["lacking"].pk)
    assert deal.stage == stages_a[1]
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1]).exists()


def test_move_back_without_javascript_and_its_negative_paths(client, bob, alice, carol, deals):
    deal = deals["lacking"]
    before = snapshot(deal)
    url = reverse("cleanup-move-back", args=[deal.pk])
    client.force_login(carol)
    assert client.post(url, {"version": 1}).status_code == 404
    client.force_login(alice)
    assert client.post(url, {"version": 1}).status_code == 403
    client.force_login(bob)
    assert client.post(url, {}).status_code == 400
    assert client.get(url).status_code == 405
    assert snapshot(deal) == before
    response = client.post(url, {"version": 1})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).stage_id != before[0]


def test_review_page_links_to_the_clean_up_list(client, bob, deals):
    client.force_login(bob)
    assert f'href="{URL}"' in client.get(reverse("review")).content.decode()
