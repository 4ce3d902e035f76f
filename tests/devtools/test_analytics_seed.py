"""seed_demo leaves a history rich enough that every analytics page tells a story."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from pipeline.models import Pipeline
from pipeline.selectors.analytics import (
    AnalyticsFilters,
    funnel,
    loss_analysis,
    reps_by_stage,
    time_in_stage,
)
from pipeline.services.analytics import analytics_refresh

pytestmark = pytest.mark.django_db


def test_seeded_history_fills_every_page():
    call_command("seed_demo", stdout=StringIO())
    analytics_refresh()
    maria = User.objects.get(username="maria")
    pipeline = Pipeline.objects.get(name="New business")
    filters = AnalyticsFilters(start=date(2000, 1, 1), end=timezone.localdate())
    rows = funnel(user=maria, filters=filters, pipeline=pipeline)
    assert all(r.entered >= 5 for r in rows)
    assert sum(r.is_biggest_drop for r in rows) == 1
    times = time_in_stage(user=maria, filters=filters, pipeline=pipeline, now=timezone.now())
    assert sum(r.is_slowest for r in times) >= 1
    matrix = reps_by_stage(
        user=maria, filters=filters, pipeline=pipeline, now=timezone.now(), unassigned="-"
    )
    rates = {r.label: r.win_rate for r in matrix.rows if r.closed >= 10}
    assert len(rates) >= 2 and len(set(rates.values())) >= 2  # reps differ
    losses = loss_analysis(user=maria, filters=filters, no_reason="-")
    assert len(losses.by_reason) >= 5 and len(losses.months) >= 6
