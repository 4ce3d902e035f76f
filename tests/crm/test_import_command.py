"""`manage.py import_records`: the web import's rules, from the command line."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.models import Company, ImportBatch
from pipeline.models import Deal
from tests.crm.import_support import FIXTURES, snapshot
from tests.factories import StageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hubspot_pipeline(pipeline_a):
    """A pipeline whose stages carry HubSpot's names, as a firm moving in sets it up."""
    names = ["Appointment scheduled", "Qualified to buy", "Presentation scheduled", "Contract sent"]
    return [StageFactory(pipeline=pipeline_a, name=n, position=i) for i, n in enumerate(names)]


def run(*args) -> dict:
    out = StringIO()
    call_command("import_records", *map(str, args), "--json", stdout=out)
    return json.loads(out.getvalue())


def test_deals_with_stages_matched_by_name_and_owners_by_email_or_name(
    bob, sven, lena, pipeline_a, hubspot_pipeline
):
    result = run(
        FIXTURES / "hubspot_deals.csv",
        "--kind",
        "deals",
        "--user",
        "bob",
        "--pipeline",
        pipeline_a.pk,
    )
    assert (result["created"], result["updated"], result["unchanged"]) == (7, 0, 0)
    assert result["errors"] == []
    assert result["warnings"] == [
        {
            "row": 7,
            "column": "Deal owner",
            "message": "“Unknown Person” is not a member of the team; you own this row.",
            "severity": "warning",
        }
    ]
    stages = dict(Deal.objects.values_list("source_id", "stage__name"))
    assert stages["9012345671"] == "Appointment scheduled"  # matched without case
    owners = dict(Deal.objects.values_list("source_id", "owner__username"))
    assert owners["9012345673"] == "sven"  # by e-mail
    assert owners["9012345672"] == "lena"  # by full name
    assert ImportBatch.objects.get().created_count == 7
    again = run(
        FIXTURES / "hubspot_deals.csv",
        "--kind",
        "deals",
        "--user",
        "bob",
        "--pipeline",
        pipeline_a.pk,
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 7)


def test_dry_run_changes_nothing_and_says_what_would_happen(bob, sven, pipeline_a, stages_a):
    before = snapshot()
    result = run(
        FIXTURES / "hubspot_deals.csv",
        "--kind",
        "deals",
        "--user",
        "bob",
        "--pipeline",
        pipeline_a.pk,
        "--dry-run",
    )
    assert result["dry_run"] is True and result["batch"] is None
    # Only "Closed Won" and "Closed Lost" are understood; the other stages are not ours.
    assert (result["created"], result["skipped"]) == (2, 5)
    assert {(e["row"], e["column"]) for e in result["errors"]} == {
        (2, "Deal Stage"),
        (3, "Deal Stage"),
        (4, "Deal Stage"),
        (5, "Deal Stage"),
        (8, "Deal Stage"),
    }
    assert snapshot() == before
    assert not ImportBatch.objects.exists()


def test_companies_go_to_the_users_only_team(bob, sven, lena, team_a):
    result = run(FIXTURES / "hubspot_companies.xlsx", "--kind", "companies", "--user", "bob")
    assert (result["created"], result["skipped"]) == (5, 1)
    assert set(Company.objects.values_list("team", flat=True)) == {team_a.pk}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_header.csv", "header row"),
        ("missing.csv", "No file"),
    ],
)
def test_bad_files_get_a_clear_message_and_change_nothing(bob, pipeline_a, stages_a, name, message):
    before = snapshot()
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(
            "import_records",
            str(FIXTURES / name),
            "--kind",
            "deals",
            "--user",
            "bob",
            "--pipeline",
            str(pipeline_a.pk),
            "--json",
            stdout=out,
        )
    assert message in str(refused.value)
    assert message in json.loads(out.getvalue())["error"]
    assert snapshot() == before
    assert not ImportBatch.objects.exists()


def test_another_teams_pipeline_is_refused(carol, pipeline_a, stages_a):
    with pytest.raises(CommandError) as refused:
        call_command(
            "import_records",
            str(FIXTURES / "hubspot_deals.csv"),
            "--kind",
            "deals",
            "--user",
            "carol",
            "--pipeline",
            str(pipeline_a.pk),
            stdout=StringIO(),
        )
    assert "cannot import into pipeline" in str(refused.value)
    assert not Deal.objects.exists()


def test_plain_output_lists_the_problems(bob, pipeline_a, stages_a):
    out = StringIO()
    call_command(
        "import_records",
        str(FIXTURES / "danish_excel_deals.csv"),
        "--kind",
        "deals",
        "--user",
        "bob",
        "--pipeline",
        str(pipeline_a.pk),
        stdout=out,
    )
    text = out.getvalue()
    assert "Imported deals: 4 created, 0 updated, 0 unchanged, 1 left out." in text
    assert "row 6, Forventet lukkedato:" in text
