"""The rules behind the settings services: stage order, removing stages without losing a
deal or its history, rot days and staleness, lost reasons and product areas."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline import services
from pipeline.models import (
    Deal,
    DealStatus,
    ExitCriterion,
    Flag,
    FlagKind,
    LostReason,
    Pipeline,
    ProductArea,
    Stage,
    StageChange,
    StageTotal,
)
from tests.factories import CompanyFactory, DealFactory, TeamFactory

pytestmark = pytest.mark.django_db


def order(pipeline) -> list[int]:
    return list(pipeline.stages.active().order_by("position", "pk").values_list("pk", flat=True))


def totals(stage) -> tuple[int, int]:
    rows = StageTotal.objects.filter(stage=stage)
    return sum(r.count for r in rows), sum(int(r.value) for r in rows)


# --- pipelines ----------------------------------------------------------------------------


def test_a_new_pipeline_gets_the_standard_stages(admin, team_a):
    pipeline = services.pipeline_create(acting_user=admin, name="Key accounts", team=team_a)
    names = list(pipeline.stages.order_by("position").values_list("name", flat=True))
    assert names == ["Lead in", "Qualified", "Proposal made", "Negotiation"]


def test_a_new_pipeline_without_standard_stages_still_has_one(admin, team_a):
    pipeline = services.pipeline_create(
        acting_user=admin, name="Partners", team=team_a, standard_stages=False
    )
    assert pipeline.stages.count() == 1


def test_archive_and_unarchive_keep_the_deals(admin, stages_a):
    pipeline = stages_a[0].pipeline
    deal = DealFactory(stage=stages_a[0])
    services.pipeline_archive(acting_user=admin, pipeline=pipeline)
    assert not Pipeline.objects.active().filter(pk=pipeline.pk).exists()
    assert Deal.objects.filter(pk=deal.pk, pipeline=pipeline).exists()
    services.pipeline_archive(acting_user=admin, pipeline=pipeline)  # idempotent
    services.pipeline_unarchive(acting_user=admin, pipeline=pipeline)
    assert Pipeline.objects.active().filter(pk=pipeline.pk).exists()


def test_a_pipeline_with_deals_of_its_team_cannot_move_to_another_team(admin, stages_a):
    pipeline = stages_a[0].pipeline
    DealFactory(stage=stages_a[0])
    other = TeamFactory(name="Team C")
    with pytest.raises(services.SettingsError):
        services.pipeline_update(
            acting_user=admin, pipeline=pipeline, name="X", team=other, qualified_after_stage=None
        )
    pipeline.refresh_from_db()
    assert pipeline.name == "New business" and pipeline.team_id != other.pk


def test_qualified_after_stage_must_be_of_the_pipeline(admin, stages_a, stages_b):
    pipeline = stages_a[0].pipeline
    with pytest.raises(services.SettingsError):
        services.pipeline_update(
            acting_user=admin,
            pipeline=pipeline,
            name=pipeline.name,
            team=pipeline.team,
            qualified_after_stage=stages_b[0],
        )
    services.pipeline_update(
        acting_user=admin,
        pipeline=pipeline,
        name=pipeline.name,
        team=pipeline.team,
        qualified_after_stage=stages_a[1],
    )
    pipeline.refresh_from_db()
    assert pipeline.qualified_after_stage == stages_a[1]


# --- stage order --------------------------------------------------------------------------


def test_reorder_writes_the_full_new_order(admin, stages_a):
    pipeline = stages_a[0].pipeline
    wanted = [stages_a[2].pk, stages_a[0].pk, stages_a[3].pk, stages_a[1].pk]
    assert services.stage_reorder(acting_user=admin, pipeline=pipeline, stage_ids=wanted)
    assert order(pipeline) == wanted


def test_same_order_twice_changes_nothing(admin, stages_a):
    pipeline = stages_a[0].pipeline
    ids = [s.pk for s in stages_a]
    assert not services.stage_reorder(acting_user=admin, pipeline=pipeline, stage_ids=ids)


@pytest.mark.parametrize("bad", ["missing", "duplicate", "foreign", "extra"])
def test_a_bad_order_is_refused_and_changes_nothing(admin, stages_a, stages_b, bad):
    pipeline = stages_a[0].pipeline
    ids = [s.pk for s in reversed(stages_a)]
    ids = {
        "missing": ids[:-1],
        "duplicate": [*ids[:-1], ids[0]],
        "foreign": [*ids[:-1], stages_b[0].pk],
        "extra": [*ids, stages_b[0].pk],
    }[bad]
    before = order(pipeline)
    with pytest.raises(services.SettingsError):
        services.stage_reorder(acting_user=admin, pipeline=pipeline, stage_ids=ids)
    assert order(pipeline) == before


def test_move_up_and_down_swaps_neighbours(admin, stages_a):
    pipeline = stages_a[0].pipeline
    services.stage_move(acting_user=admin, stage=stages_a[2], direction="up")
    assert order(pipeline) == [stages_a[0].pk, stages_a[2].pk, stages_a[1].pk, stages_a[3].pk]
    assert not services.stage_move(acting_user=admin, stage=stages_a[0], direction="up")
    services.stage_move(acting_user=admin, stage=stages_a[0], direction="down")
    assert order(pipeline)[:2] == [stages_a[2].pk, stages_a[0].pk]


# --- stage edits --------------------------------------------------------------------------


def test_a_stage_is_added_at_the_end(admin, stages_a):
    pipeline = stages_a[0].pipeline
    stage = services.stage_create(
        acting_user=admin, pipeline=pipeline, name="Contract", probability=90, rot_days=7
    )
    assert order(pipeline)[-1] == stage.pk


def test_stage_names_are_unique_in_a_pipeline(admin, stages_a):
    with pytest.raises(services.SettingsError):
        services.stage_create(
            acting_user=admin,
            pipeline=stages_a[0].pipeline,
            name="qualified",
            probability=5,
            rot_days=5,
        )


def test_shorter_rot_days_make_deals_stale_and_longer_ones_fresh(admin, stages_a, alice):
    now = timezone.now()
    deal = DealFactory(stage=stages_a[1], owner=alice, last_movement_at=now - timedelta(days=10))
    paused = DealFactory(stage=stages_a[1], last_movement_at=now - timedelta(days=3))
    Deal.objects.filter(pk=paused.pk).update(status=DealStatus.PAUSED)
    stage = stages_a[1]
    services.stage_update(
        acting_user=admin, stage=stage, name=stage.name, probability=25, rot_days=5
    )
    deal.refresh_from_db()
    paused.refresh_from_db()
    assert deal.rots_at == deal.last_movement_at + timedelta(days=5)
    assert paused.rots_at == paused.last_movement_at + timedelta(days=5)
    assert deal.is_stale and deal.needs_attention
    assert Flag.objects.filter(deal=deal, kind=FlagKind.STALE, resolved_at__isnull=True).exists()
    assert StageTotal.objects.get(stage=stage).attention == 1

    services.stage_update(
        acting_user=admin, stage=stage, name=stage.name, probability=25, rot_days=30
    )
    deal.refresh_from_db()
    assert not deal.is_stale
    assert not Flag.objects.filter(
        deal=deal, kind=FlagKind.STALE, resolved_at__isnull=True
    ).exists()
    # Still flagged for having no next step: the kept count follows the deal.
    assert StageTotal.objects.get(stage=stage).attention == int(deal.needs_attention)


def test_other_stages_deals_keep_their_clock(admin, stages_a):
    other = DealFactory(stage=stages_a[2])
    before = Deal.objects.get(pk=other.pk).rots_at
    services.stage_update(
        acting_user=admin, stage=stages_a[1], name="Qualified", probability=25, rot_days=2
    )
    assert Deal.objects.get(pk=other.pk).rots_at == before


# --- removing stages ----------------------------------------------------------------------


@pytest.fixture
def full_stage(stages_a, admin):
    """Qualified holds an open, a paused, a won and a lost deal; Lead in has two open cards."""
    source, target = stages_a[1], stages_a[0]
    DealFactory(stage=target, value=100)
    DealFactory(stage=target, value=100)
    open_deals = [DealFactory(stage=source, value=10), DealFactory(stage=source, value=20)]
    for deal in open_deals:  # as the services would have written it
        StageChange.objects.create(deal=deal, to_stage=source)
    paused = DealFactory(stage=source)
    Deal.objects.filter(pk=paused.pk).update(status=DealStatus.PAUSED)
    won = DealFactory(stage=source)
    Deal.objects.filter(pk=won.pk).update(status=DealStatus.WON)
    reason = LostReason.objects.create(name="Budget cut")
    lost = DealFactory(stage=source)
    Deal.objects.filter(pk=lost.pk).update(
        status=DealStatus.LOST, lost_reason=reason, lost_from_stage=source
    )
    services.stage_totals_rebuild(stage_ids=[source.pk, target.pk])
    return source, target, open_deals, paused, won, lost


def test_removing_a_stage_moves_every_deal_and_keeps_history(admin, full_stage):
    source, target, open_deals, paused, won, lost = full_stage
    count_before = Deal.objects.count()
    last_card = Deal.objects.filter(stage=target, status="open").order_by("-position").first()

    result = services.stage_delete(acting_user=admin, stage=source, move_deals_to=target)

    assert result.moved == 5 and result.archived
    assert Deal.objects.count() == count_before
    assert not Deal.objects.filter(stage=source).exists()
    source.refresh_from_db()
    assert source.is_archived
    # Open cards go below the target's last card, keeping their order; positions unique.
    column = list(Deal.objects.filter(stage=target, status="open").order_by("position"))
    assert [d.pk for d in column[-2:]] == [d.pk for d in open_deals]
    assert column[-3].pk == last_card.pk
    assert len({d.position for d in column}) == len(column)
    # History keeps its meaning; open and paused deals record the move.
    assert StageChange.objects.filter(to_stage=source).count() == 2
    moved = StageChange.objects.filter(from_stage=source, to_stage=target, user=admin)
    assert set(moved.values_list("deal_id", flat=True)) == {
        *(d.pk for d in open_deals),
        paused.pk,
    }
    lost.refresh_from_db()
    assert lost.lost_from_stage_id == source.pk and lost.stage_id == target.pk
    # Kept totals match the deals.
    assert totals(target) == (4, 230)
    assert totals(source) == (0, 0)
    assert source.pk not in order(source.pipeline)


def test_removing_a_stage_with_deals_needs_a_target(admin, full_stage):
    source, *_ = full_stage
    with pytest.raises(services.SettingsError):
        services.stage_delete(acting_user=admin, stage=source)
    source.refresh_from_db()
    assert not source.is_archived and Deal.objects.filter(stage=source).count() == 5


def test_the_target_must_be_another_stage_of_the_pipeline(admin, full_stage, stages_b):
    source, *_ = full_stage
    for target in (stages_b[0], source):
        with pytest.raises(services.SettingsError):
            services.stage_delete(acting_user=admin, stage=source, move_deals_to=target)
    assert Deal.objects.filter(stage=source).count() == 5


def test_an_unused_stage_is_deleted(admin, stages_a):
    result = services.stage_delete(acting_user=admin, stage=stages_a[3])
    assert not result.archived and not Stage.objects.filter(pk=stages_a[3].pk).exists()


def test_a_pipeline_keeps_its_last_stage(admin, stages_b):
    services.stage_delete(acting_user=admin, stage=stages_b[1])
    with pytest.raises(services.SettingsError):
        services.stage_delete(acting_user=admin, stage=stages_b[0])
    assert Stage.objects.filter(pk=stages_b[0].pk, is_archived=False).exists()


def test_a_removed_threshold_stage_hands_over_to_the_one_before(admin, stages_a):
    pipeline = stages_a[0].pipeline
    pipeline.qualified_after_stage = stages_a[2]
    pipeline.save()
    services.stage_delete(acting_user=admin, stage=stages_a[2])
    pipeline.refresh_from_db()
    assert pipeline.qualified_after_stage_id == stages_a[1].pk


def test_archived_stages_are_off_the_board_and_refuse_moves(admin, full_stage, alice):
    source, target, open_deals, *_ = full_stage
    services.stage_delete(acting_user=admin, stage=source, move_deals_to=target)
    deal = Deal.objects.get(pk=open_deals[0].pk)
    with pytest.raises(services.DealRuleError):
        services.deal_move(acting_user=admin, deal=deal, stage_id=source.pk, version=None)
    from pipeline.selectors.board import BoardFilters, board_columns

    columns = board_columns(pipeline=source.pipeline, user=admin, filters=BoardFilters())
    assert source.pk not in [c.stage.pk for c in columns]


def test_reopening_a_lost_deal_of_a_removed_stage_puts_it_on_the_board(admin, full_stage):
    source, target, *_rest, lost = full_stage
    services.stage_delete(acting_user=admin, stage=source, move_deals_to=target)
    deal = Deal.objects.select_related("pipeline").get(pk=lost.pk)
    services.deal_reopen(acting_user=admin, deal=deal, version=None)
    deal.refresh_from_db()
    assert deal.status == "open" and deal.stage_id == target.pk


# --- exit criteria ------------------------------------------------------------------------


def test_criteria_are_added_edited_reordered_and_removed(admin, stages_a):
    stage = stages_a[0]
    first = services.exit_criterion_create(
        acting_user=admin, stage=stage, text="Need confirmed", is_required=True
    )
    second = services.exit_criterion_create(
        acting_user=admin, stage=stage, text="Budget holder met", is_required=False
    )
    services.exit_criterion_move(acting_user=admin, criterion=second, direction="up")
    texts = list(stage.exit_criteria.order_by("position").values_list("text", flat=True))
    assert texts == ["Budget holder met", "Need confirmed"]
    services.exit_criterion_update(
        acting_user=admin, criterion=first, text="Need confirmed in writing", is_required=False
    )
    first.refresh_from_db()
    assert first.text == "Need confirmed in writing" and not first.is_required
    with pytest.raises(services.SettingsError):
        services.exit_criterion_create(
            acting_user=admin, stage=stage, text="budget holder met", is_required=True
        )
    services.exit_criterion_delete(acting_user=admin, criterion=second)
    assert list(ExitCriterion.objects.filter(stage=stage)) == [first]


# --- lost reasons and product areas -------------------------------------------------------


def test_retired_lost_reasons_stay_on_old_deals_and_leave_the_form(admin, stages_a):
    from pipeline.forms.deals import DealLostForm

    reason = services.lost_reason_create(acting_user=admin, name="Procurement froze budgets")
    deal = DealFactory(stage=stages_a[0])
    Deal.objects.filter(pk=deal.pk).update(status="lost", lost_reason=reason)
    services.lost_reason_retire(acting_user=admin, reason=reason)
    assert reason not in DealLostForm().fields["reason"].queryset
    assert Deal.objects.get(pk=deal.pk).lost_reason == reason
    services.lost_reason_restore(acting_user=admin, reason=reason)
    assert reason in DealLostForm().fields["reason"].queryset


def test_lost_reason_names_are_unique_whatever_the_case(admin):
    services.lost_reason_create(acting_user=admin, name="Procurement froze budgets")
    with pytest.raises(services.SettingsError):
        services.lost_reason_create(acting_user=admin, name="PROCUREMENT froze budgets")


def test_product_areas_reorder_and_refuse_bad_orders(admin):
    a = services.product_area_create(acting_user=admin, name="Racking")
    b = services.product_area_create(acting_user=admin, name="Forklifts")
    services.product_area_reorder(acting_user=admin, area_ids=[b.pk, a.pk])
    assert list(ProductArea.objects.order_by("position").values_list("pk", flat=True)) == [
        b.pk,
        a.pk,
    ]
    with pytest.raises(services.SettingsError):
        services.product_area_reorder(acting_user=admin, area_ids=[b.pk, b.pk])


def test_deal_forms_offer_active_areas_and_keep_a_retired_one(admin, stages_a):
    from pipeline.forms.deals import DealCreateForm, DealForm

    active = services.product_area_create(acting_user=admin, name="Racking")
    retired = services.product_area_create(acting_user=admin, name="Old line")
    deal = DealFactory(stage=stages_a[0], product_area=retired)
    services.product_area_retire(acting_user=admin, area=retired)
    pipeline = stages_a[0].pipeline
    create = DealCreateForm(pipeline=pipeline, can_reassign=True, user=admin)
    assert list(create.fields["product_area"].queryset) == [active]
    edit = DealForm(instance=deal, pipeline=pipeline, can_reassign=True, user=admin)
    assert set(edit.fields["product_area"].queryset) == {active, retired}


def test_deal_create_and_update_store_the_product_area(admin, stages_a):
    area = services.product_area_create(acting_user=admin, name="Racking")
    company = CompanyFactory(team=stages_a[0].pipeline.team)
    deal = services.deal_create(
        acting_user=admin, stage=stages_a[0], title="T", company=company, product_area=area
    )
    assert deal.product_area == area
    services.deal_update(
        acting_user=admin, deal=deal, version=deal.version, data={"product_area": None}
    )
    assert Deal.objects.get(pk=deal.pk).product_area is None
