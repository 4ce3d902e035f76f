"""/deals: the list (visibility, filters, order, cursors, a fixed number of queries), create,
change, move with versions and exit criteria, the actions, delete; foreign ids in bodies are
refused and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pipeline.models import Activity, Deal, ExitCriterion, LostReason, StageChange
from tests.api.conftest import snapshot
from tests.factories import DealFactory, MembershipFactory, UserFactory


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_the_list_holds_the_visible_deals_only(world, api_as, alice, carol, admin):
    team_a = [world[k].pk for k in ("deal_alice", "deal_alex", "deal_unassigned")]
    assert sorted(_ids(api_as(alice).get("/deals"))) == sorted(team_a)
    assert _ids(api_as(carol).get("/deals")) == [world["deal_carol"].pk]
    assert len(_ids(api_as(admin).get("/deals"))) == 4


def test_own_deals_only_teams_show_a_salesperson_their_own_and_unassigned(world, api_as, alex):
    team = alex.memberships.get().team
    team.own_deals_only = True
    team.save()
    seen = _ids(api_as(alex).get("/deals"))
    assert sorted(seen) == sorted([world["deal_alex"].pk, world["deal_unassigned"].pk])
    assert api_as(alex).get(f"/deals/{world['deal_alice'].pk}").status_code == 404


def test_filters_are_the_boards(world, api_as, alice):
    api = api_as(alice)
    assert _ids(api.get("/deals", {"owner": "me"})) == [world["deal_alice"].pk]
    assert _ids(api.get("/deals", {"owner": "none"})) == [world["deal_unassigned"].pk]
    assert _ids(api.get("/deals", {"stage": world["deal_unassigned"].stage_id})) == [
        world["deal_unassigned"].pk
    ]
    assert _ids(api.get("/deals", {"q": world["deal_alice"].title})) == [world["deal_alice"].pk]
    assert _ids(api.get("/deals", {"status": ["won", "lost"]})) == []
    assert _ids(api.get("/deals", {"pipeline": world["deal_carol"].pipeline_id})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"order": "owner__password"},
        {"order": "; DROP TABLE"},
        {"limit": 0},
        {"limit": 101},
        {"owner": "someone"},
        {"status": "deleted"},
        {"tier": "Z"},
        {"cursor": "not-a-cursor"},
        {"q": "x" * 101},
        {"q": "nul\x00byte"},
        {"pipeline": 2**63},
    ],
)
def test_bad_query_strings_are_400_with_the_field(world, api_as, alice, params):
    response = api_as(alice).get("/deals", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert {field.split(".")[0] for field in body["errors"]} & set(params)


def test_cursors_walk_every_visible_deal_once_in_order(api_as, alice, stages_a):
    for i in range(7):
        DealFactory(stage=stages_a[i % 2], owner=alice, title=f"T{i % 3}", value=100 * (i % 4))
    api = api_as(alice)
    for order in ("id", "-id", "title", "-value", "created_at", "-updated_at"):
        seen, cursor = [], None
        while True:
            params = {"order": order, "limit": 3} | ({"cursor": cursor} if cursor else {})
            page = api.get("/deals", params).json()
            seen += [row["id"] for row in page["results"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(Deal.objects.values_list("pk", flat=True)), order
        assert len(seen) == len(set(seen))


def test_a_cursor_of_another_order_is_refused(api_as, alice, stages_a):
    for _ in range(3):
        DealFactory(stage=stages_a[0], owner=alice)
    api = api_as(alice)
    cursor = api.get("/deals", {"order": "id", "limit": 1}).json()["next_cursor"]
    response = api.get("/deals", {"order": "title", "limit": 1, "cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_the_list_costs_the_same_queries_for_10_and_100_rows(api_as, alice, stages_a):
    for i in range(120):
        DealFactory(stage=stages_a[i % 4], owner=alice, company=None)
    api = api_as(alice)
    api.get("/deals")  # the token's first use writes last_used_at; later ones do not
    counts = {}
    for limit in (10, 100):
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/deals", {"limit": limit})
        assert len(response.json()["results"]) == limit
        counts[limit] = len(queries)
    # the token with its user, the user's memberships (access), the page of deals
    assert counts == {10: 3, 100: 3}


def _create(api, stage, **extra):
    return api.post("/deals", {"title": "New deal", "stage": stage.pk, **extra})


def test_create_puts_the_deal_on_top_with_its_next_step(world, api_as, alice, stages_a):
    due = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = _create(
        api_as(alice),
        stages_a[0],
        value="1250.50",
        currency="DKK",
        company=world["company_a"].pk,
        contact=world["contact_a"].pk,
        next_step={"subject": "Call Ann", "due_date": due},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    deal = Deal.objects.get(pk=body["id"])
    assert (deal.owner, deal.value, deal.currency, deal.stage) == (
        alice,
        deal.value,
        "DKK",
        stages_a[0],
    )
    assert body["value"] == "1250.50"
    assert body["next_step"]["subject"] == "Call Ann"
    assert StageChange.objects.filter(deal=deal, from_stage=None, to_stage=stages_a[0]).exists()


@pytest.mark.parametrize(
    "field, foreign",
    [
        ("stage", lambda w: w["deal_carol"].stage_id),
        ("company", lambda w: w["company_b"].pk),
        ("contact", lambda w: w["contact_b"].pk),
        ("owner", lambda w: w["deal_carol"].owner_id),
        ("product_area", lambda w: 2**40),
    ],
)
def test_create_refuses_another_teams_ids_and_creates_nothing(
    world, api_as, bob, stages_a, field, foreign
):
    api = api_as(bob)
    before = snapshot()
    body = {"title": "Sneaky", "stage": stages_a[0].pk, field: foreign(world)}
    response = api.post("/deals", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert snapshot() == before


def test_a_salesperson_cannot_give_a_new_deal_to_someone_else(world, api_as, alice, alex, stages_a):
    api = api_as(alice)
    before = snapshot()
    response = _create(api, stages_a[0], owner=alex.pk)
    assert response.status_code == 403
    assert snapshot() == before


def test_a_company_of_another_team_is_refused_even_when_visible(api_as, admin, world, stages_a):
    """An admin sees team B's company, but a team A deal cannot have it (the service's rule)."""
    api = api_as(admin)
    before = snapshot()
    response = _create(api, stages_a[0], company=world["company_b"].pk)
    assert response.status_code == 400
    assert response.json()["code"] == "rule"
    assert snapshot() == before


def test_change_needs_the_current_version(world, api_as, alice):
    deal = world["deal_alice"]
    api = api_as(alice)
    response = api.patch(f"/deals/{deal.pk}", {"version": deal.version, "title": "Bigger"})
    assert response.status_code == 200
    assert response.json()["version"] == deal.version + 1
    before = snapshot()
    stale = api.patch(f"/deals/{deal.pk}", {"version": deal.version, "title": "Stale"})
    assert stale.status_code == 409
    assert stale.json() | {"detail": ""} == {
        "detail": "",
        "code": "conflict",
        "current_version": deal.version + 1,
    }
    assert snapshot() == before


def test_change_without_a_version_is_400(world, api_as, alice):
    response = api_as(alice).patch(f"/deals/{world['deal_alice'].pk}", {"title": "X"})
    assert response.status_code == 400
    assert "version" in response.json()["errors"]


@pytest.mark.parametrize(
    "field, foreign",
    [
        ("company", lambda w: w["company_b"].pk),
        ("contact", lambda w: w["contact_b"].pk),
        ("owner", lambda w: w["deal_carol"].owner_id),
    ],
)
def test_change_refuses_another_teams_ids(world, api_as, bob, field, foreign):
    deal = world["deal_alice"]
    api = api_as(bob)
    before = snapshot()
    response = api.patch(f"/deals/{deal.pk}", {"version": deal.version, field: foreign(world)})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert snapshot() == before


def test_a_salesperson_cannot_reassign_but_a_manager_can(world, api_as, alice, alex, bob):
    deal = world["deal_alice"]
    api = api_as(alice)
    before = snapshot()
    refused = api.patch(f"/deals/{deal.pk}", {"version": deal.version, "owner": alex.pk})
    assert refused.status_code == 403
    assert snapshot() == before
    done = api_as(bob).patch(f"/deals/{deal.pk}", {"version": deal.version, "owner": alex.pk})
    assert done.status_code == 200
    assert done.json()["owner_id"] == alex.pk


def test_change_ignores_stage_and_position(world, api_as, alice, stages_a):
    deal = world["deal_alice"]
    response = api_as(alice).patch(
        f"/deals/{deal.pk}",
        {"version": deal.version, "stage": stages_a[3].pk, "position": 1, "status": "won"},
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.stage_id, deal.status) == (stages_a[0].pk, "open")


def test_move_is_the_boards(world, api_as, alice, stages_a):
    deal = world["deal_alice"]
    response = api_as(alice).post(
        f"/deals/{deal.pk}/move", {"stage": stages_a[2].pk, "version": deal.version}
    )
    assert response.status_code == 200
    assert response.json()["stage_id"] == stages_a[2].pk
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[2]).count() == 1


def test_a_stale_move_is_409_and_moves_nothing(world, api_as, alice, stages_a):
    deal = world["deal_alice"]
    api = api_as(alice)
    before = snapshot()
    response = api.post(f"/deals/{deal.pk}/move", {"stage": stages_a[1].pk, "version": 99})
    assert response.status_code == 409
    assert response.json()["current_version"] == deal.version
    assert snapshot() == before


def test_a_move_to_another_pipelines_stage_is_400(world, api_as, alice):
    deal = world["deal_alice"]
    api = api_as(alice)
    before = snapshot()
    response = api.post(
        f"/deals/{deal.pk}/move", {"stage": world["deal_carol"].stage_id, "version": deal.version}
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_a_forward_move_obeys_the_exit_criteria(world, api_as, alice, stages_a):
    deal = world["deal_alice"]
    required = ExitCriterion.objects.create(stage=stages_a[0], text="Need confirmed")
    ExitCriterion.objects.create(stage=stages_a[0], text="Budget known", is_required=False)
    api = api_as(alice)
    before = snapshot()
    refused = api.post(f"/deals/{deal.pk}/move", {"stage": stages_a[1].pk, "version": deal.version})
    assert refused.status_code == 422
    assert refused.json()["code"] == "exit_criteria_unmet"
    assert [c["id"] for c in refused.json()["missing_criteria"]] == [required.pk]
    assert snapshot() == before
    done = api.post(
        f"/deals/{deal.pk}/move",
        {"stage": stages_a[1].pk, "version": deal.version, "criteria": [required.pk]},
    )
    assert done.status_code == 200
    assert deal.criterion_checks.get().criterion == required
    # Moving back asks for nothing.
    back = api.post(
        f"/deals/{deal.pk}/move", {"stage": stages_a[0].pk, "version": done.json()["version"]}
    )
    assert back.status_code == 200


def test_ticks_of_other_stages_criteria_are_400(world, api_as, alice, stages_a):
    deal = world["deal_alice"]
    elsewhere = ExitCriterion.objects.create(stage=stages_a[3], text="Signed")
    api = api_as(alice)
    before = snapshot()
    response = api.post(
        f"/deals/{deal.pk}/move",
        {"stage": stages_a[1].pk, "version": deal.version, "criteria": [elsewhere.pk]},
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_won_lost_pause_resume_reopen(world, api_as, alice):
    deal = world["deal_alice"]
    api = api_as(alice)
    path = f"/deals/{deal.pk}"
    won = api.post(f"{path}/won", {"version": deal.version}).json()
    assert won["status"] == "won"
    again = api.post(f"{path}/won", {"version": won["version"]})
    assert again.status_code == 400 and again.json()["code"] == "rule"
    reopened = api.post(f"{path}/reopen", {"version": won["version"]}).json()
    assert reopened["status"] == "open"
    reason = LostReason.objects.filter(is_active=True).first()
    lost = api.post(f"{path}/lost", {"version": reopened["version"], "reason": reason.pk}).json()
    assert (lost["status"], lost["lost_reason_id"]) == ("lost", reason.pk)
    reopened = api.post(f"{path}/reopen", {"version": lost["version"]}).json()
    until = (timezone.localdate() + timedelta(days=10)).isoformat()
    paused = api.post(
        f"{path}/pause", {"version": reopened["version"], "until": until, "reason": "Budget"}
    ).json()
    assert (paused["status"], paused["paused_until"]) == ("paused", until)
    resumed = api.post(f"{path}/resume", {"version": paused["version"]}).json()
    assert resumed["status"] == "open"


def test_a_retired_lost_reason_and_a_past_resume_date_are_400(world, api_as, alice):
    deal = world["deal_alice"]
    reason = LostReason.objects.create(name="Retired", is_active=False)
    api = api_as(alice)
    before = snapshot()
    lost = api.post(f"/deals/{deal.pk}/lost", {"version": deal.version, "reason": reason.pk})
    assert lost.status_code == 400 and "reason" in lost.json()["errors"]
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    paused = api.post(
        f"/deals/{deal.pk}/pause", {"version": deal.version, "until": yesterday, "reason": "x"}
    )
    assert paused.status_code == 400 and "until" in paused.json()["errors"]
    assert snapshot() == before


def test_a_manager_deletes_a_deal_with_its_history(world, api_as, bob):
    deal = world["deal_alice"]
    assert api_as(bob).delete(f"/deals/{deal.pk}").status_code == 204
    assert not Deal.objects.filter(pk=deal.pk).exists()
    assert not Activity.objects.filter(deal_id=deal.pk).exists()


def test_a_manager_of_another_team_gets_404(world, api_as, stages_b):
    manager_b = UserFactory(username="manager_b")
    MembershipFactory(user=manager_b, team=stages_b[0].pipeline.team, role="manager")
    api = api_as(manager_b)
    before = snapshot()
    response = api.delete(f"/deals/{world['deal_alice'].pk}")
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    "cursor",
    [
        # ["title", "<NUL>", 1] and ["title", "<lone surrogate>", 1], base64-encoded
        "WyJ0aXRsZSIsIlx1MDAwMCIsMV0",
        "WyJ0aXRsZSIsIlx1ZDgwMCIsMV0",
    ],
)
def test_a_cursor_with_text_the_database_cannot_hold_is_400(world, api_as, alice, cursor):
    response = api_as(alice).get("/deals", {"order": "title", "cursor": cursor})
    assert response.status_code == 400


def test_a_far_off_updated_since_is_400(world, api_as, alice):
    response = api_as(alice).get("/deals", {"updated_since": "9999-12-31T23:59:59-14:00"})
    assert response.status_code == 400
    assert "updated_since" in response.json()["errors"]
