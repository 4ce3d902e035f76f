"""/pipelines and /stages: everyone reads what they can see, with exit criteria; admins write."""

from __future__ import annotations

from pipeline.models import ExitCriterion, Pipeline
from tests.api.conftest import snapshot


def test_pipelines_come_with_their_stages_and_criteria_in_order(world, api_as, alice, stages_a):
    ExitCriterion.objects.create(stage=stages_a[0], text="Need confirmed", position=0)
    pipelines = api_as(alice).get("/pipelines").json()["results"]
    assert [p["name"] for p in pipelines] == ["New business"]
    stages = pipelines[0]["stages"]
    assert [s["name"] for s in stages] == ["Lead in", "Qualified", "Proposal", "Negotiation"]
    assert stages[0]["exit_criteria"][0]["text"] == "Need confirmed"


def test_the_stage_list_holds_visible_stages_only(world, api_as, carol, stages_b):
    stages = api_as(carol).get("/stages").json()["results"]
    assert sorted(s["id"] for s in stages) == sorted(s.pk for s in stages_b)


def test_an_admin_adds_and_changes_pipelines_and_stages(world, api_as, admin, team_b):
    api = api_as(admin)
    created = api.post("/pipelines", {"name": "Key accounts", "team": team_b.pk})
    assert created.status_code == 201
    assert len(created.json()["stages"]) == 4
    pipeline_id = created.json()["id"]
    stage = api.post(f"/pipelines/{pipeline_id}/stages", {"name": "Signed", "probability": 95})
    assert stage.status_code == 201
    changed = api.patch(f"/stages/{stage.json()['id']}", {"rot_days": 30})
    assert (changed.json()["rot_days"], changed.json()["probability"]) == (30, 95)
    renamed = api.patch(
        f"/pipelines/{pipeline_id}", {"name": "Key accounts DK", "qualified_after_stage": None}
    )
    assert renamed.json()["name"] == "Key accounts DK"


def test_a_stage_of_another_pipeline_cannot_be_the_qualification_stage(
    world, api_as, admin, stages_a, stages_b
):
    api = api_as(admin)
    before = snapshot()
    response = api.patch(
        f"/pipelines/{stages_a[0].pipeline_id}", {"qualified_after_stage": stages_b[0].pk}
    )
    assert response.status_code == 400
    assert "qualified_after_stage" in response.json()["errors"]
    assert snapshot() == before


def test_duplicate_stage_names_are_refused(world, api_as, admin, stages_a):
    api = api_as(admin)
    before = snapshot()
    response = api.post(f"/pipelines/{stages_a[0].pipeline_id}/stages", {"name": "lead in"})
    assert response.status_code == 400
    assert snapshot() == before
    assert Pipeline.objects.count() == 2
