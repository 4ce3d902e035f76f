"""Stage probabilities out of order (70 % after 75 %): allowed, but the settings page warns,
naming the stages, and says so right after the save that made it.

stages_a: Lead in 10 %, Qualified 25 %, Proposal 50 %, Negotiation 75 %.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline.models import Stage
from pipeline.selectors.settings import probability_inversions
from tests.factories import StageFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
WARNING = "Probabilities out of order"


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def stages_with(*probabilities: int) -> list[Stage]:
    return [
        Stage(pk=i + 1, name=f"S{i + 1}", position=i, probability=p)
        for i, p in enumerate(probabilities)
    ]


def named(inversions) -> list[tuple[str, str]]:
    return [(i.stage.name, i.earlier.name) for i in inversions]


# --- the selector -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "probabilities", [(), (10,), (10, 25, 50, 75), (10, 50, 50, 90), (0, 0, 0), (100, 100)]
)
def test_rising_or_level_probabilities_are_in_order(probabilities):
    assert probability_inversions(stages=stages_with(*probabilities)) == []


def test_a_lower_stage_after_a_higher_one_is_named_with_it():
    assert named(probability_inversions(stages=stages_with(10, 25, 75, 70))) == [("S4", "S3")]


def test_each_stage_is_compared_with_the_highest_before_it():
    # 30 and 40 both come after 50; 60 is above everything before it.
    inversions = probability_inversions(stages=stages_with(10, 50, 30, 40, 60, 55))
    assert named(inversions) == [("S3", "S2"), ("S4", "S2"), ("S6", "S5")]


def test_on_a_tie_the_first_of_the_highest_is_named():
    assert named(probability_inversions(stages=stages_with(75, 75, 70))) == [("S3", "S1")]


# --- the settings page --------------------------------------------------------------------


def test_page_in_order_shows_no_warning(signed_in, stages_a):
    response = signed_in.get(reverse("settings-pipeline", args=[stages_a[0].pipeline_id]))
    assert response.status_code == 200
    assert WARNING not in response.text
    assert 'id="stage-probability-warning"' in response.text  # the slot a save may fill


def test_page_names_the_stages_out_of_order(signed_in, stages_a):
    StageFactory(pipeline=stages_a[0].pipeline, name="Contract sent", position=4, probability=70)
    response = signed_in.get(reverse("settings-pipeline", args=[stages_a[0].pipeline_id]))
    assert WARNING in response.text
    assert "“Contract sent” (70 %) comes after “Negotiation” (75 %)." in response.text


def test_archived_stages_and_other_pipelines_are_left_out(signed_in, stages_a, stages_b):
    StageFactory(
        pipeline=stages_a[0].pipeline, name="Old", position=9, probability=1, is_archived=True
    )
    stages_b[1].probability = 0
    stages_b[1].save()
    response = signed_in.get(reverse("settings-pipeline", args=[stages_a[0].pipeline_id]))
    assert WARNING not in response.text


@pytest.mark.parametrize("htmx", [True, False])
def test_saving_a_stage_out_of_order_is_allowed_and_warned_at_once(signed_in, stages_a, htmx):
    proposal = stages_a[2]
    url = reverse("settings-stage-update", args=[proposal.pk])
    data = {"name": "Proposal", "probability": 80, "rot_days": 14}
    if htmx:
        response = signed_in.post(url, data, **HTMX)
        html = response.text
        assert response.status_code == 200 and html.lstrip().startswith("<li")
        assert 'id="stage-probability-warning" hx-swap-oob="true"' in html
    else:
        response = signed_in.post(url, data, follow=True)
        html = response.text
        assert response.status_code == 200
        assert "Stage saved, but its probability is out of order" in html
    assert "“Negotiation” (75 %) comes after “Proposal” (80 %)." in html
    proposal.refresh_from_db()
    assert proposal.probability == 80  # a warning, not a refusal


def test_mending_the_order_clears_the_warning_in_place(signed_in, stages_a):
    negotiation = stages_a[3]
    negotiation.probability = 40
    negotiation.save()
    url = reverse("settings-stage-update", args=[negotiation.pk])
    response = signed_in.post(
        url, {"name": "Negotiation", "probability": 75, "rot_days": 14}, **HTMX
    )
    assert response.status_code == 200
    assert 'id="stage-probability-warning" hx-swap-oob="true"' in response.text
    assert WARNING not in response.text


def test_a_save_elsewhere_in_the_pipeline_says_plainly_saved(signed_in, stages_a):
    StageFactory(pipeline=stages_a[0].pipeline, name="Contract sent", position=4, probability=70)
    url = reverse("settings-stage-update", args=[stages_a[0].pk])
    response = signed_in.post(url, {"name": "Lead in", "probability": 5, "rot_days": 14})
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Stage saved."]


def test_adding_a_stage_below_the_last_warns_in_the_panel(signed_in, stages_a):
    pipeline = stages_a[0].pipeline
    response = signed_in.post(
        reverse("settings-stage-create", args=[pipeline.pk]),
        {"name": "Contract sent", "probability": 60, "rot_days": 7},
        **HTMX,
    )
    assert response.status_code == 200 and 'id="stage-panel"' in response.text
    assert "“Contract sent” (60 %) comes after “Negotiation” (75 %)." in response.text


def test_reordering_into_disorder_warns_in_the_panel(signed_in, stages_a):
    pipeline = stages_a[0].pipeline
    order = [stages_a[0].pk, stages_a[2].pk, stages_a[1].pk, stages_a[3].pk]
    response = signed_in.post(
        reverse("settings-stage-reorder", args=[pipeline.pk]),
        {"order": order},
        **HTMX,
    )
    assert response.status_code == 200
    assert "“Qualified” (25 %) comes after “Proposal” (50 %)." in response.text


def test_stage_edit_page_shows_the_warning(signed_in, stages_a):
    stages_a[1].probability = 60
    stages_a[1].save()
    response = signed_in.get(reverse("settings-stage-update", args=[stages_a[1].pk]))
    assert response.status_code == 200
    assert "“Proposal” (50 %) comes after “Qualified” (60 %)." in response.text


def test_non_admin_cannot_save_a_stage_and_nothing_changes(client, bob, stages_a):
    client.force_login(bob)
    url = reverse("settings-stage-update", args=[stages_a[2].pk])
    response = client.post(url, {"name": "Proposal", "probability": 90, "rot_days": 14})
    assert response.status_code == 403
    stages_a[2].refresh_from_db()
    assert stages_a[2].probability == 50
