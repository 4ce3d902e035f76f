"""Round robin under concurrent submissions: real threads against PostgreSQL. The form's row
lock serialises the choice of owner, so leads arriving at the same moment still go strictly
in turn, and every lead lands once with its history and next step."""

from __future__ import annotations

from collections import Counter

import pytest

from accounts.models import Role
from pipeline import services
from pipeline.models import Activity, Deal, LeadForm, StageChange
from pipeline.services.lead_forms import Lead
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory, UserFactory
from tests.pipeline.services.test_concurrency import run_at_once

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_leads_sent_at_once_are_shared_out_fairly(lead_form, alice, alex, team_a, stages_a):
    third = UserFactory(username="third")
    MembershipFactory(user=third, team=team_a, role=Role.SALESPERSON)
    lead_form.round_robin_users.add(third)
    people = sorted([alice.pk, alex.pk, third.pk])

    def send(i: int):
        return lambda: services.lead_submit(
            lead_form=LeadForm.objects.get(pk=lead_form.pk),
            lead=Lead(name=f"Visitor {i}", email=f"v{i}@firm{i}.example", company=f"Firm {i}"),
        )

    results = run_at_once([send(i) for i in range(12)])
    assert all(isinstance(r, Deal) for r in results), results
    deals = Deal.objects.order_by("pk")
    assert deals.count() == 12
    # Each person got exactly a third, and in creation order they strictly take turns.
    assert Counter(deals.values_list("owner_id", flat=True)) == {pk: 4 for pk in people}
    owners = list(deals.values_list("owner_id", flat=True))
    start = people.index(owners[0])
    assert owners == [people[(start + i) % 3] for i in range(12)]
    assert StageChange.objects.filter(to_stage=stages_a[0]).count() == 12
    assert Activity.objects.filter(deal__in=deals).count() == 12
    assert Deal.objects.filter(next_step__isnull=True).count() == 0
    form = LeadForm.objects.get(pk=lead_form.pk)
    assert form.submission_count == 12 and form.round_robin_last_id == owners[-1]
    positions = list(deals.values_list("position", flat=True))
    assert len(set(positions)) == 12  # every card has its own place in the column
