"""Many people on one board: real threads against PostgreSQL, each with its own connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from pipeline import services
from pipeline.models import Deal, StageChange
from tests.conftest import requires_postgres
from tests.factories import DealFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(functions):
    """Start every function at the same moment in its own thread; collect results/errors."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def runner(i, function):
        try:
            barrier.wait()
            results[i] = function()
        except Exception as error:  # noqa: BLE001 - the test inspects what happened
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_many_cards_dropped_into_one_column_at_once_lose_nothing(alice, stages_a):
    target = stages_a[1]
    anchor = DealFactory(stage=target, owner=alice, title="anchor")
    DealFactory(stage=target, owner=alice, title="tail")
    movers = [DealFactory(stage=stages_a[0], owner=alice, title=f"m{i}") for i in range(8)]

    def drop(deal):
        # Each worker drops its card below the anchor, takes it out again and drops it back,
        # many times, so the column's order is rewritten concurrently again and again.
        def work():
            version = 1
            for round_ in range(12):
                stage = target if round_ % 2 == 0 else stages_a[0]
                result = services.deal_move(
                    acting_user=alice,
                    deal=deal,
                    stage_id=stage.pk,
                    version=version,
                    after_id=anchor.pk,
                )
                deal.stage_id, version = result.deal.stage_id, result.deal.version
            deal.refresh_from_db()
            return services.deal_move(
                acting_user=alice,
                deal=deal,
                stage_id=target.pk,
                version=deal.version,
                after_id=anchor.pk,
            )

        return work

    results = run_at_once([drop(d) for d in movers])
    assert all(not isinstance(r, Exception) for r in results), results
    column = list(
        Deal.objects.filter(stage=target, status="open")
        .order_by("position", "pk")
        .values_list("title", "position")
    )
    titles = [t for t, _ in column]
    assert len(titles) == 10 and len({p for _, p in column}) == 10
    assert titles[0] == "anchor" and titles[-1] == "tail"
    assert sorted(titles[1:-1]) == sorted(d.title for d in movers)
    assert StageChange.objects.filter(to_stage=target).count() == 8 * 7


def test_two_people_moving_the_same_card_one_wins_the_other_is_told(alice, bob, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    results = run_at_once(
        [
            lambda: services.deal_move(
                acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1
            ),
            lambda: services.deal_move(
                acting_user=bob, deal=deal, stage_id=stages_a[2].pk, version=1
            ),
        ]
    )
    conflicts = [r for r in results if isinstance(r, services.DealConflict)]
    moved = [r for r in results if isinstance(r, services.MoveResult)]
    assert len(conflicts) == 1 and len(moved) == 1, results
    deal.refresh_from_db()
    assert deal.stage_id == moved[0].deal.stage_id and deal.version == 2
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_crossing_moves_between_two_columns_do_not_deadlock(alice, stages_a):
    left = [DealFactory(stage=stages_a[0], owner=alice) for _ in range(4)]
    right = [DealFactory(stage=stages_a[1], owner=alice) for _ in range(4)]
    jobs = [
        (
            lambda d=d: services.deal_move(
                acting_user=alice, deal=d, stage_id=stages_a[1].pk, version=1
            )
        )
        for d in left
    ] + [
        (
            lambda d=d: services.deal_move(
                acting_user=alice, deal=d, stage_id=stages_a[0].pk, version=1
            )
        )
        for d in right
    ]
    results = run_at_once(jobs)
    assert all(isinstance(r, services.MoveResult) for r in results), results
    for stage in stages_a[:2]:
        positions = list(
            Deal.objects.filter(stage=stage, status="open").values_list("position", flat=True)
        )
        assert len(positions) == 4 and len(set(positions)) == 4
