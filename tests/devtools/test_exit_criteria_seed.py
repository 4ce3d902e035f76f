"""The demo data shows exit criteria at work: believable criteria per stage, a qualification
stage per pipeline, recorded checks on deals past those stages, and a clean-up list."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from pipeline.models import DealCriterionCheck, ExitCriterion, Pipeline
from pipeline.selectors.cleanup import cleanup_for_user

pytestmark = pytest.mark.django_db


def test_seed_demo_gives_stages_exit_criteria_and_deals_their_checks():
    call_command("seed_demo", stdout=StringIO())
    assert ExitCriterion.objects.filter(
        stage__pipeline__name="New business",
        stage__name="Qualified",
        text="Customer confirmed the need",
        is_required=True,
    ).exists()
    assert ExitCriterion.objects.filter(is_required=False).exists()
    assert not Pipeline.objects.filter(qualified_after_stage__isnull=True).exists()
    check = DealCriterionCheck.objects.select_related("deal__stage", "stage").first()
    assert check is not None and check.stage.position < check.deal.stage.position
    assert cleanup_for_user(user=User.objects.get(username="maria")).total > 0
    # A second run adds no duplicates.
    criteria = ExitCriterion.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert ExitCriterion.objects.count() == criteria
