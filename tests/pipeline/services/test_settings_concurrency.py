"""Settings changes racing card drops: real threads against PostgreSQL."""

from __future__ import annotations

import pytest

from pipeline import services
from pipeline.models import Deal, DealStatus, Stage, StageTotal
from tests.conftest import requires_postgres
from tests.factories import DealFactory
from tests.pipeline.services.test_concurrency import run_at_once

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_removing_a_stage_while_cards_drop_into_it_loses_no_deal(admin, alice, stages_a):
    source, target = stages_a[1], stages_a[2]
    for _ in range(5):
        DealFactory(stage=source, owner=alice)
    DealFactory(stage=target, owner=alice)
    movers = [DealFactory(stage=stages_a[0], owner=alice) for _ in range(6)]

    def drop(deal):
        def work():
            fresh = Deal.objects.select_related("pipeline").get(pk=deal.pk)
            return services.deal_move(
                acting_user=alice, deal=fresh, stage_id=source.pk, version=None
            )

        return work

    def remove():
        return services.stage_delete(
            acting_user=admin, stage=Stage.objects.get(pk=source.pk), move_deals_to=target
        )

    results = run_at_once([remove, *(drop(d) for d in movers)])
    assert not isinstance(results[0], Exception), results[0]
    for result in results[1:]:
        # A drop either landed before the removal (and moved on with it) or was refused.
        assert not isinstance(result, Exception) or isinstance(result, services.DealRuleError)
    assert not Deal.objects.filter(stage=source).exists()
    assert Deal.objects.count() == 12
    column = Deal.objects.filter(stage=target, status=DealStatus.OPEN)
    positions = list(column.values_list("position", flat=True))
    assert len(positions) == len(set(positions))
    kept = sum(StageTotal.objects.filter(stage=target).values_list("count", flat=True))
    assert kept == column.count()


def test_two_admins_reordering_at_once_leave_one_of_their_orders(admin, stages_a):
    pipeline = stages_a[0].pipeline
    first = [s.pk for s in reversed(stages_a)]
    second = [stages_a[1].pk, stages_a[0].pk, stages_a[3].pk, stages_a[2].pk]

    def reorder(ids):
        return lambda: services.stage_reorder(acting_user=admin, pipeline=pipeline, stage_ids=ids)

    results = run_at_once([reorder(first), reorder(second)] * 3)
    assert not any(isinstance(r, Exception) for r in results), results
    final = list(pipeline.stages.order_by("position", "pk").values_list("pk", flat=True))
    assert final in (first, second)
    positions = list(pipeline.stages.values_list("position", flat=True))
    assert sorted(positions) == [0, 1, 2, 3]
