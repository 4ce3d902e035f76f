"""Loss analysis over more than one pipeline: the stages lost from are grouped by pipeline
(in the pipelines' order), each pipeline's in its own stage order, never interleaved by
position or by how many deals were lost there."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pipeline.models import LostReason
from pipeline.selectors.analytics import AnalyticsFilters, loss_analysis
from tests.factories import DealFactory, PipelineFactory, StageFactory


@pytest.fixture
def two_pipelines(team_a, alice, pipeline_a, stages_a):
    """New business (stages at positions 0-3) and Key accounts (positions 0-2), both in team
    A; losses counted so that ordering by count or by position would interleave them."""
    pipeline_a.position = 0
    pipeline_a.save()
    key = PipelineFactory(team=team_a, name="Key accounts", position=1)
    key_stages = [
        StageFactory(pipeline=key, name=name, position=i)
        for i, name in enumerate(["Intro", "Demo", "Offer"])
    ]
    price = LostReason.objects.create(name="Price")
    timing = LostReason.objects.create(name="Timing")
    now = timezone.now()
    losses = [  # (stage, how many, reason)
        (stages_a[3], 1, price),
        (key_stages[2], 5, price),
        (stages_a[0], 2, timing),
        (key_stages[0], 4, timing),
        (stages_a[2], 3, price),
        (key_stages[1], 6, timing),
    ]
    for stage, count, reason in losses:
        for _ in range(count):
            DealFactory(
                stage=stage,
                owner=alice,
                status="lost",
                lost_reason=reason,
                lost_from_stage=stage,
                created_at=now - timedelta(days=9),
                closed_at=now - timedelta(days=1),
            )
    return stages_a, key_stages


EXPECTED = [
    ("New business", ["Lead in", "Proposal", "Negotiation"]),
    ("Key accounts", ["Intro", "Demo", "Offer"]),
]


def test_selector_groups_stages_by_pipeline_in_stage_order(bob, two_pipelines):
    filters = AnalyticsFilters(start=date(2000, 1, 1), end=timezone.localdate())
    analysis = loss_analysis(user=bob, filters=filters, no_reason="-")
    got = [(g.pipeline, [name for _pk, name in g.stages]) for g in analysis.stage_groups]
    assert got == EXPECTED
    stages_a, key_stages = two_pipelines
    assert analysis.stage_order == [
        stages_a[0].pk,
        stages_a[2].pk,
        stages_a[3].pk,
        key_stages[0].pk,
        key_stages[1].pk,
        key_stages[2].pk,
    ]


def test_page_shows_each_pipeline_over_its_own_stages(client, bob, two_pipelines):
    client.force_login(bob)
    page = client.get(reverse("analytics-losses")).content.decode()
    table = page.split('id="loss-table"')[1].split("</thead>")[0]
    groups = re.findall(r'scope="colgroup" colspan="(\d)"[^>]*>([^<]+)<', table)
    assert groups == [("3", "New business"), ("3", "Key accounts")]
    stages = re.findall(r'<th scope="col" class="num[^"]*">([^<]+)</th>', table)
    assert stages == [name for _pipeline, names in EXPECTED for name in names]
    cards = re.findall(r"<h3>([^<]+)</h3>", page.split('id="loss-top-title"')[1])
    assert cards == [f"{name} ({pipeline})" for pipeline, names in EXPECTED for name in names]


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_export_lists_pipelines_then_stages_in_order(client, bob, two_pipelines, export):
    client.force_login(bob)
    response = client.get(reverse("analytics-losses"), {"export": export})
    if export == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(response.content)).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:3] == ["Pipeline", "Stage lost from", "Reason"]
    order = [(r[0], r[1]) for r in rows[1:]]
    assert order == [(p, name) for p, names in EXPECTED for name in names]


def test_one_pipeline_needs_no_pipeline_row(client, bob, alice, stages_a):
    DealFactory(
        stage=stages_a[1],
        owner=alice,
        status="lost",
        lost_from_stage=stages_a[1],
        closed_at=timezone.now(),
    )
    client.force_login(bob)
    page = client.get(reverse("analytics-losses")).content.decode()
    assert 'scope="colgroup"' not in page and ">Qualified</th>" in page
