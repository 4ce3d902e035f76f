"""Follow-up routines under concurrency: real threads against PostgreSQL."""

from __future__ import annotations

import pytest

from pipeline import services
from pipeline.models import Activity, Deal, StageChange
from tests.conftest import requires_postgres
from tests.factories import DealFactory
from tests.pipeline.services.test_concurrency import run_at_once

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_drop_sent_at_once_plans_the_routines_once(admin, alice, bob, stages_a):
    """Two tabs (and a double click) drop the same card into the same stage at once: one move
    wins the deal's lock, the others find it there already; one entry, one set of activities."""
    services.routine_create(
        acting_user=admin,
        stage=stages_a[1],
        subject="Send a follow-up",
        kind="email",
        due_in_days=3,
    )
    services.routine_create(
        acting_user=admin, stage=stages_a[1], subject="Call", kind="call", due_in_days=7
    )
    deal = DealFactory(stage=stages_a[0], owner=alice)

    def drop(user):
        return lambda: services.deal_move(
            acting_user=user,
            deal=Deal.objects.get(pk=deal.pk),
            stage_id=stages_a[1].pk,
            version=None,
        )

    results = run_at_once([drop(alice), drop(bob), drop(alice), drop(bob)])
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(r.changed for r in results) == 1
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1]).count() == 1
    planned = Activity.objects.filter(deal=deal)
    assert sorted(planned.values_list("subject", flat=True)) == ["Call", "Send a follow-up"]
    deal.refresh_from_db()
    assert deal.next_step.subject == "Send a follow-up"


def test_many_deals_entering_while_an_admin_edits_the_routines_each_plan_whole(
    admin, alice, stages_a
):
    """A routine switched off while cards are dropped: each move sees the routines before the
    change or after it (the routine services take the stage's column lock), never half."""
    first = services.routine_create(
        acting_user=admin, stage=stages_a[1], subject="One", kind="email", due_in_days=1
    )
    services.routine_create(
        acting_user=admin, stage=stages_a[1], subject="Two", kind="call", due_in_days=2
    )
    deals = [DealFactory(stage=stages_a[0], owner=alice) for _ in range(6)]

    def drop(deal):
        return lambda: services.deal_move(
            acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1
        )

    def switch_off():
        return services.routine_update(
            acting_user=admin,
            routine=first,
            subject="One",
            kind="email",
            due_in_days=1,
            is_active=False,
        )

    results = run_at_once([*(drop(d) for d in deals), switch_off])
    assert all(not isinstance(r, Exception) for r in results), results
    for deal in deals:
        subjects = sorted(Activity.objects.filter(deal=deal).values_list("subject", flat=True))
        assert subjects in (["One", "Two"], ["Two"])
        deal.refresh_from_db()
        assert deal.next_step.subject == subjects[0]
