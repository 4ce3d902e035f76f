"""`manage.py bench`: refuses anything but PostgreSQL; its fixture builder tops up exactly.

The HTTP part (gunicorn) is exercised by `make bench` itself: a gunicorn started from a test
would not see pytest-django's test database.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from crm.devtools.bench_fixtures import PIPELINE_NAME, build_bench_fixture
from pipeline.models import Deal, DealStatus, Pipeline, StageChange
from tests.conftest import is_postgres

only_sqlite = pytest.mark.skipif(
    is_postgres(), reason="checks the refusal on a non-PostgreSQL database"
)
only_postgres = pytest.mark.skipif(
    not is_postgres(), reason="the bench fixture uses PostgreSQL's generate_series and arrays"
)


@only_sqlite
def test_refuses_to_run_on_sqlite(tmp_path):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench", sizes="300", requests=1, json=str(tmp_path / "bench.json"))
    assert not (tmp_path / "bench.json").exists()


@only_postgres
@pytest.mark.django_db
def test_fixture_builds_and_tops_up_exactly():
    fixture = build_bench_fixture(600)

    pipeline = Pipeline.objects.get(name=PIPELINE_NAME, team__name="Bench")
    assert fixture.pipeline == pipeline
    assert len(fixture.stages) == 6
    assert [s.probability for s in fixture.stages] == [10, 20, 35, 50, 65, 80]
    assert fixture.user.memberships.get(team=fixture.team).role == "salesperson"
    _assert_board(pipeline, 600)

    again = build_bench_fixture(900)

    assert again.pipeline == pipeline
    assert Pipeline.objects.filter(name=PIPELINE_NAME).count() == 1
    _assert_board(pipeline, 900)
    # Idempotent: asking for the same size writes nothing.
    before = set(Deal.objects.filter(pipeline=pipeline).values_list("pk", flat=True))
    build_bench_fixture(900)
    assert set(Deal.objects.filter(pipeline=pipeline).values_list("pk", flat=True)) == before


@only_postgres
@pytest.mark.django_db
def test_fixture_shrinks_to_a_smaller_size():
    build_bench_fixture(900)
    fixture = build_bench_fixture(600)

    _assert_board(fixture.pipeline, 600)


def _assert_board(pipeline: Pipeline, total: int) -> None:
    deals = Deal.objects.filter(pipeline=pipeline)
    assert deals.count() == total
    assert deals.filter(status=DealStatus.OPEN).count() == total
    per_stage = dict(deals.values("stage_id").annotate(n=Count("pk")).values_list("stage_id", "n"))
    assert sorted(per_stage.values()) == [total // 6] * 6
    for stage_id in per_stage:
        positions = list(deals.filter(stage_id=stage_id).values_list("position", flat=True))
        assert len(set(positions)) == len(positions)
    assert set(deals.values_list("currency", flat=True)) == {"EUR", "DKK", "SEK", "NOK"}
    owners = deals.values("owner__username").annotate(n=Count("pk"))
    by_owner = {row["owner__username"]: row["n"] for row in owners}
    assert by_owner["bench"] > total // 2 and len(by_owner) == 3
    assert deals.filter(company__isnull=True).count() == 0
    changes = StageChange.objects.filter(deal__pipeline=pipeline)
    assert changes.count() == total
    assert not changes.values("deal_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert not changes.exclude(from_stage__isnull=True).exists()
