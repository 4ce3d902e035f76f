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
            compiled = BOARD_STAGES.fetch(pipeline_id=pipeline.pk)
        assert len(queries) == 1
        expected = list(_board_stages(pipeline.pk))
        assert [s.pk for s in compiled] == [s.pk for s in expected]
        assert [bool(s.has_exit_criteria) for s in compiled] == [
            s.has_exit_criteria for s in expected
        ]
        assert all(s.pipeline_id == pipeline.pk and s.name for s in compiled)
    assert [s.has_exit_criteria for s in BOARD_STAGES.fetch(pipeline_id=pipelines[1].pk)] == [
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
        unused.fetch(team_id=1)


def test_fetch_answers_as_the_orm_with_related_objects_values_and_lists(db):
    """`fetch` returns the queryset's own results: model instances with their select_related
    objects, the dicts of .values(); a list parameter is compiled once per length."""
    from django.db.models import F, Q

    from pipeline.models import Pipeline, StageTotal

    teams = [TeamFactory(name=f"Team {i}") for i in range(3)]
    pipelines = [PipelineFactory(team=team) for team in teams]
    archived = PipelineFactory(team=teams[0], is_archived=True)

    def build(pk, team_ids):
        return (
            Pipeline.objects.filter(team_id__in=team_ids)
            .filter(Q(is_archived=False) | Q(pk=pk))
            .select_related("team")
        )

    compiled = CompiledQuery(Pipeline, build, "pk", "team_ids")
    for pk, team_ids in [
        (archived.pk, [teams[0].pk]),
        (pipelines[1].pk, [teams[0].pk, teams[1].pk]),
        (pipelines[2].pk, [t.pk for t in teams]),
        (archived.pk, [teams[1].pk]),
    ]:
        with CaptureQueriesContext(connection) as queries:
            rows = compiled.fetch(pk=pk, team_ids=team_ids)
            names = [(p.pk, p.name, p.team.name) for p in rows]  # no query for the team
        assert len(queries) == 1
        assert names == [(p.pk, p.name, p.team.name) for p in build(pk, team_ids)]
    assert compiled.fetch(pk=archived.pk, team_ids=[]) == []  # matches nothing, no query
    assert {key[3] for key in compiled._compiled} >= {(None, 1), (None, 2), (None, 3)}

    stage = StageFactory(pipeline=pipelines[0])
    StageTotal.objects.update_or_create(
        stage=stage, currency="EUR", defaults={"count": 2, "value": "12.50", "attention": 1}
    )

    def totals(stage_ids):
        return StageTotal.objects.filter(stage_id__in=stage_ids).values(
            "stage_id", "currency", n=F("count"), total=F("value")
        )

    kept = CompiledQuery(StageTotal, totals, "stage_ids")
    assert kept.fetch(stage_ids=[stage.pk, stage.pk + 99]) == list(totals([stage.pk]))
    assert kept.fetch(stage_ids=[stage.pk + 99]) == []


def test_the_switcher_is_the_orm_s_for_an_admin_a_member_and_a_stranger(db):
    from django.http import Http404

    from accounts.models import Role
    from pipeline.selectors.board import pipeline_and_switcher_for_user, pipelines_for_user

    north, south, west = TeamFactory(), TeamFactory(), TeamFactory()
    boards = {
        team: [PipelineFactory(team=team, position=p) for p in (1, 0)]
        for team in (north, south, west)
    }
    old = PipelineFactory(team=north, is_archived=True)
    admin, member, stranger = UserFactory(), UserFactory(), UserFactory()
    MembershipFactory(user=admin, team=west, role=Role.ADMIN)
    MembershipFactory(user=member, team=north)
    MembershipFactory(user=member, team=south)
    for user in (admin, member):
        expected = [p.pk for p in pipelines_for_user(user=user)]
        pipeline, switcher = pipeline_and_switcher_for_user(user=user, pk=boards[north][0].pk)
        assert pipeline == boards[north][0] and [p.pk for p in switcher] == expected
        pipeline, switcher = pipeline_and_switcher_for_user(user=user, pk=old.pk)
        assert pipeline == old and old not in switcher
    assert len(pipeline_and_switcher_for_user(user=admin, pk=old.pk)[1]) == 6
    with pytest.raises(Http404):
        pipeline_and_switcher_for_user(user=member, pk=boards[west][0].pk)
    with pytest.raises(Http404):
        pipeline_and_switcher_for_user(user=stranger, pk=boards[north][0].pk)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"owner": "me"},
        {"owner": "none"},
        {"owner": "colleague"},
        {"attention": True},
        {"tiers": ("A", "C")},
        {"owner": "me", "attention": True, "tiers": ("B",)},
        {"q": "50% off_"},
    ],
)
def test_the_board_s_compiled_cards_query_is_the_orm_s_statement(db, filters):
    """For every shape of the visibility rule and the filters, the statement the board sends
    for its cards' ids is exactly the one the ORM builds from `visible_to` and the filters."""
    from accounts.models import Role
    from pipeline.selectors.board import (
        BoardFilters,
        _board_deals,
        _stage_ids_query,
        _stage_ids_sql,
    )

    own_only, full = TeamFactory(own_deals_only=True), TeamFactory()
    pipeline = PipelineFactory(team=own_only)
    other = PipelineFactory(team=full)
    colleague = UserFactory()
    admin, seller, both, outsider = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    MembershipFactory(user=admin, team=full, role=Role.ADMIN)
    MembershipFactory(user=seller, team=own_only)
    MembershipFactory(user=both, team=own_only)
    MembershipFactory(user=both, team=full)
    if filters.get("owner") == "colleague":
        filters = {**filters, "owner": str(colleague.pk)}
    board_filters = BoardFilters(**filters)
    for user in (admin, seller, both, outsider):
        for board in (pipeline, other):
            for limit in (3, 26):
                orm = _stage_ids_query(
                    _board_deals(pipeline=board, user=user, filters=board_filters), limit
                ).query.sql_with_params()
                sent = _stage_ids_sql(pipeline=board, user=user, filters=board_filters, limit=limit)
                assert sent == (orm[0], list(orm[1])), (user, board, limit)
