"""crm/compiled.py: a queryset compiled once, run with new values, answers as the ORM does."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.models import User
from accounts.selectors import PEOPLE_OF_TEAM, people_of_team, users_of_team
from crm.compiled import CompiledQuery
from pipeline.models import ExitCriterion, Stage
from pipeline.selectors.board import BOARD_STAGES, _board_stages
from tests.factories import (
    MembershipFactory,
    PipelineFactory,
    StageFactory,
    TeamFactory,
    UserFactory,
)


def test_the_board_stages_are_the_orm_s_for_every_pipeline(db):
    pipelines = [PipelineFactory(), PipelineFactory()]
    for pipeline in pipelines:
        for position in (2, 0, 1):
            StageFactory(pipeline=pipeline, position=position)
    criterion_stage = pipelines[1].stages.order_by("position").first()
    ExitCriterion.objects.create(stage=criterion_stage, text="The buyer confirmed the budget")
    Stage.objects.filter(pk=pipelines[0].stages.order_by("position").last().pk).update(
        is_archived=True
    )
    for pipeline in pipelines:
        with CaptureQueriesContext(connection) as queries:
            compiled = list(BOARD_STAGES.raw(pipeline_id=pipeline.pk))
        assert len(queries) == 1
        expected = list(_board_stages(pipeline.pk))
        assert [s.pk for s in compiled] == [s.pk for s in expected]
        assert [bool(s.has_exit_criteria) for s in compiled] == [
            s.has_exit_criteria for s in expected
        ]
        assert all(s.pipeline_id == pipeline.pk and s.name for s in compiled)
    assert [bool(s.has_exit_criteria) for s in BOARD_STAGES.raw(pipeline_id=pipelines[1].pk)] == [
        True,
        False,
        False,
    ]


def test_the_people_of_a_team_are_the_orm_s_in_each_language(db):
    team, other = TeamFactory(), TeamFactory()
    names = ["Øystein", "Zoe", "Åsa", "Anna", "Ärla"]
    for name in names:
        MembershipFactory(user=UserFactory(first_name=name, last_name="X"), team=team)
    MembershipFactory(user=UserFactory(first_name="Bea", is_active=False), team=team)
    MembershipFactory(user=UserFactory(first_name="Elsewhere"), team=other)
    for language in ("da", "de", "sv", "en-gb"):
        with translation.override(language):
            assert [u.pk for u in people_of_team(team_id=team.pk)] == [
                u.pk for u in users_of_team(team_id=team.pk)
            ]
    with translation.override("de"):
        assert {u.first_name for u in people_of_team(team_id=team.pk)} == set(names)
        assert [u.first_name for u in people_of_team(team_id=other.pk)] == ["Elsewhere"]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="collations by language are PostgreSQL's (ICU)"
)
def test_a_query_in_the_language_s_collation_is_compiled_per_language(db):
    team = TeamFactory()
    for name in ("Zoe", "Åsa", "Anna"):
        MembershipFactory(user=UserFactory(first_name=name, last_name="X"), team=team)
    with translation.override("de"):
        german = [u.first_name for u in people_of_team(team_id=team.pk)]
    with translation.override("da"):
        danish = [u.first_name for u in people_of_team(team_id=team.pk)]
    assert german == ["Anna", "Åsa", "Zoe"]
    assert danish == ["Anna", "Zoe", "Åsa"]  # Danish sorts Å after Z
    assert len({key[2] for key in PEOPLE_OF_TEAM._compiled}) >= 2


def test_the_signed_in_user_comes_with_their_access_in_one_query(client, db):
    user = UserFactory(username="ines")
    team = TeamFactory()
    MembershipFactory(user=user, team=team)
    PipelineFactory(team=team)
    client.force_login(user)
    from accounts.backends import ThrottledModelBackend

    with CaptureQueriesContext(connection) as queries:
        loaded = ThrottledModelBackend().get_user(str(user.pk))
    assert len(queries) == 1
    assert loaded.pk == user.pk and loaded.username == "ines"
    assert loaded._crm_access.team_ids == frozenset({team.pk})
    assert ThrottledModelBackend().get_user(str(user.pk + 1000)) is None
    assert ThrottledModelBackend().get_user("not a number") is None
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert ThrottledModelBackend().get_user(str(user.pk)) is None


def test_a_parameter_the_query_does_not_use_is_refused(db):
    unused = CompiledQuery(User, lambda team_id: User.objects.filter(is_active=True), "team_id")
    with pytest.raises(ValueError, match="team_id"):
        unused.raw(team_id=1)
