"""bench_analytics builds its fixture with set-based SQL, idempotently (PostgreSQL only)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pipeline.models import Deal, StageChange
from tests.conftest import is_postgres, requires_postgres

pytestmark = pytest.mark.django_db


@requires_postgres
def test_fixture_has_the_asked_size_and_is_reused():
    from crm.devtools.bench_analytics import build_fixture

    messages: list[str] = []
    fixture = build_fixture(40, 5, log=messages.append)
    deals = Deal.objects.filter(pipeline=fixture.pipeline)
    assert deals.count() == 40
    assert StageChange.objects.filter(deal__pipeline=fixture.pipeline).count() == 200
    assert set(deals.values_list("status", flat=True)) == {"open", "won", "lost"}
    lost = deals.filter(status="lost")
    assert not lost.filter(lost_reason__isnull=True).exists()
    # each deal sits in the stage of its last change
    for deal in deals[:10]:
        last = deal.stage_changes.order_by("-at", "-pk").first()
        assert deal.stage_id == last.to_stage_id
    build_fixture(40, 5, log=messages.append)
    assert "Fixture ready" in messages[-2]
    assert "brought up to date" in messages[-1]


@pytest.mark.skipif(is_postgres(), reason="the refusal is for other databases")
def test_refuses_sqlite():
    with pytest.raises(CommandError):
        call_command("bench_analytics", "--deals", "20")
