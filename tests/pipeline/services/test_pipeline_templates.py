"""A pipeline from a template: the catalogue's rules (stages as customer decisions with exit
criteria, rising probabilities, routines in range), and the service that writes one."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation
from django.utils.functional import lazy

from pipeline import catalogue, selectors, services
from pipeline.models import (
    ROUTINE_MAX_DAYS,
    ActivityKind,
    ExitCriterion,
    FollowUpRoutine,
    Pipeline,
    Stage,
)

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        Pipeline.objects.count(),
        Stage.objects.count(),
        ExitCriterion.objects.count(),
        FollowUpRoutine.objects.count(),
    )


# --- the catalogue --------------------------------------------------------------------------


def test_the_catalogue_offers_at_least_five_templates_with_unique_keys():
    keys = [t.key for t in catalogue.TEMPLATES]
    assert len(keys) >= 5
    assert len(set(keys)) == len(keys)
    assert {"b2b-service", "consulting", "saas", "key-accounts", "minimal"} <= set(keys)
    assert len(catalogue.template_by_key("minimal").stages) == 3
    assert len(catalogue.template_by_key("b2b-service").stages) == 5


@pytest.mark.parametrize("template", catalogue.TEMPLATES, ids=lambda t: t.key)
def test_every_template_follows_the_method(template):
    probabilities = [s.probability for s in template.stages]
    assert probabilities == sorted(probabilities) and len(set(probabilities)) == len(probabilities)
    assert all(0 < p < 100 for p in probabilities)
    names = [str(s.name) for s in template.stages]
    assert len(set(names)) == len(names)
    for stage in template.stages:
        assert 1 <= stage.rot_days <= 60
        assert len(str(stage.name)) <= Stage._meta.get_field("name").max_length
        # Every stage says which customer event lets a deal out, at least one required.
        assert any(c.is_required for c in stage.criteria)
        for criterion in stage.criteria:
            assert str(criterion.text).startswith("Customer")
            assert len(str(criterion.text)) <= ExitCriterion._meta.get_field("text").max_length
        assert stage.routines, "templates come with routines"
        for routine in stage.routines:
            assert routine.kind in ActivityKind.values
            assert 0 <= routine.due_in_days <= ROUTINE_MAX_DAYS
            assert len(str(routine.subject)) <= 200


def test_template_list_summarises_each_template_for_a_picker():
    entries = selectors.template_list()
    assert [e.key for e in entries] == [t.key for t in catalogue.TEMPLATES]
    b2b = entries[0]
    assert b2b.name == "B2B services" and b2b.description
    assert b2b.stage_count == 5
    first = b2b.stages[0]
    assert (first.name, first.probability, first.rot_days) == ("Interested", 10, 7)
    assert first.criteria[0].is_required is True
    assert first.routines[0].kind_label == "Call" and first.routines[0].due_in_days == 1
    assert selectors.template_get("nope") is None


# --- the service ------------------------------------------------------------------------------


def test_admin_creates_a_pipeline_from_a_template(admin, team_a):
    pipeline = services.pipeline_create_from_template(
        acting_user=admin, team=team_a, template_key="b2b-service"
    )
    assert pipeline.name == "B2B services" and pipeline.team == team_a
    stages = list(pipeline.stages.order_by("position"))
    spec = catalogue.template_by_key("b2b-service").stages
    assert [(s.name, s.probability, s.rot_days, s.position) for s in stages] == [
        (str(t.name), t.probability, t.rot_days, i) for i, t in enumerate(spec)
    ]
    for stage, template in zip(stages, spec, strict=True):
        criteria = list(stage.exit_criteria.order_by("position"))
        assert [(c.text, c.is_required) for c in criteria] == [
            (str(c.text), c.is_required) for c in template.criteria
        ]
        routines = list(stage.routines.order_by("position"))
        assert [(r.subject, r.kind, r.due_in_days, r.is_active) for r in routines] == [
            (str(r.subject), r.kind, r.due_in_days, True) for r in template.routines
        ]


def test_a_pipeline_from_a_template_is_placed_last_and_takes_the_given_name(admin, team_a):
    first = services.pipeline_create(acting_user=admin, name="Existing", team=team_a)
    pipeline = services.pipeline_create_from_template(
        acting_user=admin, team=team_a, template_key="minimal", name="  Quick deals  "
    )
    assert pipeline.name == "Quick deals"
    assert pipeline.position == first.position + 1
    assert pipeline.stages.count() == 3


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_only_an_admin_may_create_from_a_template(request, persona, team_a):
    user = request.getfixturevalue(persona)
    before = counts()
    with pytest.raises(PermissionDenied):
        services.pipeline_create_from_template(
            acting_user=user, team=team_a, template_key="minimal"
        )
    assert counts() == before


@pytest.mark.parametrize(
    ("key", "name"), [("no-such-template", None), ("", None), ("minimal", "x" * 101)]
)
def test_bad_input_is_refused_and_creates_nothing(admin, team_a, key, name):
    before = counts()
    with pytest.raises(services.SettingsError):
        services.pipeline_create_from_template(
            acting_user=admin, team=team_a, template_key=key, name=name
        )
    assert counts() == before


def test_texts_are_written_in_the_language_active_at_creation(admin, team_a, monkeypatch):
    """The catalogue's texts stay lazy until a pipeline is created: a text that names the
    active language shows which language the service resolved it in."""
    language = lazy(translation.get_language, str)()
    base = catalogue.template_by_key("minimal")
    stage = dataclasses.replace(
        base.stages[0],
        name=language,
        criteria=(catalogue.required(language),),
        routines=(catalogue.routine(language, ActivityKind.CALL, 1),),
    )
    template = dataclasses.replace(base, key="lang", name=language, stages=(stage,))
    monkeypatch.setitem(catalogue.TEMPLATES_BY_KEY, "lang", template)
    with translation.override("de"):
        pipeline = services.pipeline_create_from_template(
            acting_user=admin, team=team_a, template_key="lang"
        )
    stage = pipeline.stages.get()
    assert (pipeline.name, stage.name) == ("de", "de")
    assert stage.exit_criteria.get().text == "de"
    assert stage.routines.get().subject == "de"
