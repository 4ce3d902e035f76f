"""/activities and /deals/{id}/activities: plan, change, complete; the next step follows."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.api.conftest import snapshot


def test_planning_a_step_makes_it_the_next_step(world, api_as, alice):
    deal = world["deal_alice"]
    api = api_as(alice)
    earlier = (timezone.localdate() - timedelta(days=1)).isoformat()
    created = api.post(
        f"/deals/{deal.pk}/activities", {"subject": "Earlier call", "due_date": earlier}
    )
    assert created.status_code == 201, created.content
    assert created.json()["assignee_id"] == alice.pk
    detail = api.get(f"/deals/{deal.pk}").json()
    assert detail["next_step"]["activity_id"] == created.json()["id"]


def test_the_list_filters_by_deal_assignee_and_state(world, api_as, alice, carol):
    api = api_as(alice)
    mine = api.get("/activities", {"assignee": "me", "done": False}).json()["results"]
    assert [a["id"] for a in mine] == [world["activity_alice"].pk]
    assert api_as(carol).get("/activities").json()["results"] == []


def test_completing_is_idempotent_and_moves_the_next_step(world, api_as, alice):
    activity = world["activity_alice"]
    api = api_as(alice)
    done = api.post(f"/activities/{activity.pk}/complete", {"note": "Spoke to Ann"})
    assert done.status_code == 200
    assert done.json()["done_at"] is not None
    again = api.post(f"/activities/{activity.pk}/complete", {})
    assert again.json()["done_at"] == done.json()["done_at"]
    assert api.get(f"/deals/{activity.deal_id}").json()["next_step"] is None


def test_an_assignee_outside_the_team_is_refused(world, api_as, admin, carol):
    api = api_as(admin)
    before = snapshot()
    response = api.post(
        f"/deals/{world['deal_alice'].pk}/activities",
        {"subject": "X", "due_date": timezone.localdate().isoformat(), "assignee": carol.pk},
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_a_date_far_away_is_400(world, api_as, alice):
    api = api_as(alice)
    before = snapshot()
    far = (timezone.localdate() + timedelta(days=5 * 365)).isoformat()
    created = api.post(
        f"/deals/{world['deal_alice'].pk}/activities", {"subject": "X", "due_date": far}
    )
    assert created.status_code == 400 and "due_date" in created.json()["errors"]
    changed = api.patch(f"/activities/{world['activity_alice'].pk}", {"due_date": far})
    assert changed.status_code == 400 and "due_date" in changed.json()["errors"]
    assert snapshot() == before
