"""The demo data shows follow-up routines at work: its stages have routines, and a deal moved
into one of them gets the activity."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from pipeline import services
from pipeline.models import Activity, Deal, DealStatus, FollowUpRoutine, Stage

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_stages_routines_that_plan_on_a_move():
    call_command("seed_demo", stdout=StringIO())
    proposal = Stage.objects.get(pipeline__name="New business", name="Proposal sent")
    assert proposal.has_routines
    assert list(proposal.routines.values_list("subject", flat=True)) == [
        "Send a follow-up on the proposal",
        "Call to walk through the proposal",
    ]
    routines = FollowUpRoutine.objects.count()
    call_command("seed_demo", stdout=StringIO())  # a second run adds no duplicates
    assert FollowUpRoutine.objects.count() == routines

    deal = Deal.objects.filter(
        stage__pipeline__name="New business", stage__name="Discovery done", status=DealStatus.OPEN
    ).first()
    admin = User.objects.get(username="admin")
    services.deal_move(
        acting_user=admin,
        deal=deal,
        stage_id=proposal.pk,
        version=deal.version,
        criteria=list(deal.stage.exit_criteria.values_list("pk", flat=True)),
    )
    assert Activity.objects.filter(deal=deal, routine__stage=proposal).count() == 2
