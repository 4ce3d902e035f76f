"""A worker killed in the middle of a job (SIGKILL, an out-of-memory kill, a redeploy): with
`acks_late` and `task_reject_on_worker_lost` the broker hands the job out again, so the next
run must finish with the right result and no duplicates. A kill mid-transaction is a
rollback; here the job is stopped at its last step, after all its writes, and run again."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from pipeline import services
from pipeline.models import Flag, Notification, StageMonth, StageTotal, StageVisit
from pipeline.services.analytics import analytics_refresh
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the job can catch it."""


def _flags_state():
    return (
        sorted(Flag.objects.filter(resolved_at__isnull=True).values_list("deal_id", "kind")),
        Notification.objects.count(),
        sorted(StageTotal.objects.values_list("stage_id", "count", "attention")),
    )


def test_the_worker_settings_redeliver_a_killed_job():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_a_flag_scan_killed_at_its_last_step_then_run_again_flags_each_deal_once(alice, stages_a):
    now = timezone.now()
    for i in range(6):
        DealFactory(stage=stages_a[i % 2], owner=alice, rots_at=now - timedelta(days=i + 1))
    with (
        mock.patch("pipeline.services.deals.stage_attention_rebuild", side_effect=Killed),
        pytest.raises(Killed),
    ):
        services.flags_scan(now=now)
    services.flags_scan(now=now)
    once = _flags_state()
    services.flags_scan(now=now)
    assert _flags_state() == once
    # every deal is flagged once per kind, its owner told once in one summary, and the
    # columns count them all
    assert not (
        Flag.objects.values("deal_id", "kind").annotate(n=Count("pk")).filter(n__gt=1).exists()
    )
    assert once[1] == 1
    assert Notification.objects.get().details["deals"] == 6
    assert sum(attention for _, _, attention in once[2]) == 6


def test_an_analytics_rebuild_killed_half_way_then_run_again_equals_a_clean_one(alice, stages_a):
    for i in range(5):
        deal = DealFactory(stage=stages_a[0], owner=alice, title=f"d{i}")
        services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    analytics_refresh(full=True)
    clean = (
        sorted(StageVisit.objects.values_list("change_id", "stage_id", "is_first")),
        sorted(StageMonth.objects.values_list("basis", "stage_id", "n")),
    )
    real = "pipeline.services.analytics._months_apply"
    with mock.patch(real, side_effect=Killed), pytest.raises(Killed):
        analytics_refresh(full=True)
    analytics_refresh(full=True)
    again = (
        sorted(StageVisit.objects.values_list("change_id", "stage_id", "is_first")),
        sorted(StageMonth.objects.values_list("basis", "stage_id", "n")),
    )
    assert again == clean


def _snapshot_state():
    from pipeline.models import ForecastSnapshotLine, ForecastSnapshotRun

    return (
        list(ForecastSnapshotRun.objects.values_list("week", "deal_count")),
        sorted(ForecastSnapshotLine.objects.values_list("deal_id", "stage_id", "value")),
    )


def test_a_snapshot_killed_half_way_then_run_again_writes_the_week_once(alice, stages_a):
    for i in range(4):
        DealFactory(
            stage=stages_a[i % 2],
            owner=alice,
            created_at=timezone.now() - timedelta(days=30),
            updated_at=timezone.now() - timedelta(days=30),
        )
    with (
        mock.patch("pipeline.services.forecasts.snapshot_totals_insert", side_effect=Killed),
        pytest.raises(Killed),
    ):
        services.forecast_snapshot_take()
    assert _snapshot_state() == ([], [])  # the kill rolled the whole week back
    run = services.forecast_snapshot_take()
    assert run is not None and run.deal_count == 4
    once = _snapshot_state()
    assert services.forecast_snapshot_take() is None  # a redelivered job writes nothing
    assert _snapshot_state() == once and len(once[0]) == 1 and len(once[1]) == 4
