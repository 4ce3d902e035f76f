"""`manage.py bench_imports`: refuses anything but PostgreSQL; the file it writes is a
HubSpot-style export that imports cleanly, with its companies and contacts.

The timed import runs `manage.py import_records` in a process of its own (for its peak
memory), which would not see pytest-django's test database: `make bench` exercises that."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from crm.devtools.bench_imports import bench_team, write_deals_file
from crm.services import imports as import_services
from pipeline.models import Deal, StageChange
from tests.conftest import is_postgres


@pytest.mark.skipif(is_postgres(), reason="checks the refusal on a non-PostgreSQL database")
def test_refuses_to_run_on_sqlite(tmp_path):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench_imports", rows=100, json=str(tmp_path / "b.json"))
    assert not (tmp_path / "b.json").exists()


@pytest.mark.django_db
def test_the_bench_file_imports_cleanly_with_its_companies_and_contacts(tmp_path):
    target = bench_team("test")
    path = tmp_path / "deals.csv"
    write_deals_file(path, 200, reps=target.reps, companies=80, contacts=160)
    batch, result = import_services.import_records(
        acting_user=target.manager,
        kind="deals",
        file=io.BytesIO(path.read_bytes()),
        file_name=path.name,
        pipeline=target.pipeline,
    )
    assert result.problems == []
    assert (result.created, result.related["companies"], result.related["contacts"]) == (
        200,
        80,
        160,
    )
    assert Deal.objects.filter(pipeline=target.pipeline).count() == 200
    assert StageChange.objects.filter(deal__pipeline=target.pipeline).count() == 200
    owners = set(Deal.objects.filter(pipeline=target.pipeline).values_list("owner", flat=True))
    assert owners == {rep.pk for rep in target.reps}  # by e-mail and by full name
    _, again = import_services.import_records(
        acting_user=target.manager,
        kind="deals",
        file=io.BytesIO(path.read_bytes()),
        file_name=path.name,
        pipeline=target.pipeline,
        dry_run=True,
    )
    assert (again.created, again.unchanged) == (0, 200)
