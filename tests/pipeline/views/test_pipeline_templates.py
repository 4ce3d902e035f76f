"""Settings' "New pipeline from template" through HTTP: the cards, creating, and refusals
(400 with a clear message, nothing created). The role matrix (403 for everyone but admins,
login for anonymous) is in tests/pipeline/test_settings_access.py."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline import catalogue
from pipeline.models import ExitCriterion, FollowUpRoutine, Pipeline, Stage

pytestmark = pytest.mark.django_db
URL = reverse("settings-pipeline-from-template")


def counts():
    return (
        Pipeline.objects.count(),
        Stage.objects.count(),
        ExitCriterion.objects.count(),
        FollowUpRoutine.objects.count(),
    )


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def test_the_pipelines_page_offers_templates(signed_in, stages_a):
    page = signed_in.get(reverse("settings-pipelines")).content.decode()
    assert URL in page and "New pipeline from template" in page


def test_the_picker_shows_every_template_with_stages_criteria_and_routines(signed_in, team_a):
    response = signed_in.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    for template in catalogue.TEMPLATES:
        assert f'id="template-{template.key}"' in html and str(template.name) in html
    assert "Proposal under review" in html and "50%" in html  # CLDR en-GB: no space
    assert "Customer went through the proposal with us" in html  # an exit criterion
    assert "Send a follow-up on the proposal" in html  # a routine
    assert "after 3 working days" in html
    assert 'value="b2b-service"' in html and "checked" not in html.split('id="template-')[1]


def test_a_template_can_be_preselected(signed_in, team_a):
    html = signed_in.get(URL, {"template": "saas"}).content.decode()
    card = html.split('id="template-saas"')[1].split('id="template-')[0]
    assert "checked" in card and "is-chosen" in html


def test_admin_creates_a_pipeline_from_a_template(signed_in, team_a, team_b):
    response = signed_in.post(URL, {"template": "saas", "team": team_b.pk, "name": "Licences"})
    pipeline = Pipeline.objects.get(name="Licences")
    assert response.status_code == 302
    assert response["Location"] == reverse("settings-pipeline", args=[pipeline.pk])
    assert pipeline.team == team_b
    assert pipeline.stages.count() == 5
    assert FollowUpRoutine.objects.filter(stage__pipeline=pipeline).count() == sum(
        len(s.routines) for s in catalogue.template_by_key("saas").stages
    )
    page = signed_in.get(response["Location"]).content.decode()
    assert "Trial running" in page and "routine" in page


def test_an_empty_name_takes_the_templates(signed_in, team_a):
    signed_in.post(URL, {"template": "minimal", "team": team_a.pk, "name": "  "})
    assert Pipeline.objects.filter(name="Simple three stages").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"template": "no-such", "name": "X"}, "Pick one of the pipeline templates offered."),
        ({"name": "X"}, "Pick a template."),
        ({"template": "minimal", "name": "x" * 101}, "at most 100 characters"),
        ({"template": "minimal", "team": 999_999}, "Pick one of the teams offered."),
        ({"template": "minimal", "team": "abc"}, "Pick one of the teams offered."),
    ],
)
def test_bad_input_is_400_with_a_message_and_creates_nothing(signed_in, team_a, data, message):
    before = counts()
    body = {"team": team_a.pk, **data}
    response = signed_in.post(URL, body)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert counts() == before
