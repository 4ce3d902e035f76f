"""`manage.py bench_reports` (crm/devtools/bench_reports.py): where it runs, which page is
judged against which target, and that a page's SQL floor re-runs the very statements the page
ran."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm.devtools.bench_reports import SCENARIOS, page_statements, sql_floor_ms
from tests.conftest import is_postgres
from tests.factories import DealFactory


@pytest.mark.skipif(is_postgres(), reason="the refusal is for SQLite")
@pytest.mark.django_db
def test_refuses_to_run_on_sqlite(tmp_path):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench_reports", "--sizes", "100", "--json", str(tmp_path / "r.json"))


def test_targets_apply_where_the_issue_sets_them():
    targets = {(s.url_name, size): s.target(size) for s in SCENARIOS for size in (10_000, 100_000)}
    assert targets[("forecast", 100_000)] == (150.0, 100_000)
    assert targets[("review", 10_000)] == (100.0, 10_000)
    assert targets[("forecast", 10_000)] is None  # timed for information only
    assert targets[("review", 100_000)] is None
    assert targets[("forecast-changes", 100_000)] is None


def test_the_floor_runs_the_pages_own_statements(bob, alice, stages_a):
    DealFactory(stage=stages_a[0], owner=alice)
    statements = page_statements(bob, reverse("review"))
    assert any("pipeline_deal" in sql for sql, _params in statements)
    assert sql_floor_ms(statements, repeat=3) > 0
