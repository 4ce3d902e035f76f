"""Pausing: off the board and out of the flags, the rotting clock stopped, back on the date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline import services
from pipeline.models import Deal, DealStatus, Flag, FlagKind, StageTotal
from tests.factories import DealFactory


@pytest.fixture
def deal(alice, stages_a):
    return DealFactory(stage=stages_a[0], owner=alice, value=500)


def open_flags(deal):
    return set(
        Flag.objects.filter(deal=deal, resolved_at__isnull=True).values_list("kind", flat=True)
    )


def test_pause_takes_the_deal_off_the_board_and_resolves_its_flags(alice, deal, stages_a):
    services.flags_sync()
    assert open_flags(deal) == {FlagKind.NO_NEXT_STEP}
    until = timezone.localdate() + timedelta(days=10)
    services.deal_pause(
        acting_user=alice, deal=deal, version=1, until=until, reason="Budget freeze"
    )
    deal.refresh_from_db()
    assert deal.status == DealStatus.PAUSED and deal.paused_until == until
    assert deal.pause_reason == "Budget freeze" and deal.version == 2
    assert open_flags(deal) == set() and not deal.needs_attention
    assert StageTotal.objects.get(stage=stages_a[0]).count == 0
    services.flags_sync()  # a scan while paused raises nothing
    assert open_flags(deal) == set()


def test_pause_needs_a_future_date_and_an_open_deal(alice, deal):
    with pytest.raises(services.DealRuleError):
        services.deal_pause(
            acting_user=alice, deal=deal, version=1, until=timezone.localdate(), reason="x"
        )
    services.deal_mark_won(acting_user=alice, deal=deal, version=1)
    deal.refresh_from_db()
    with pytest.raises(services.DealRuleError):
        services.deal_pause(
            acting_user=alice,
            deal=deal,
            version=deal.version,
            until=timezone.localdate() + timedelta(days=3),
            reason="x",
        )


def test_resume_keeps_the_rotting_clock_where_it_stopped(alice, deal, stages_a):
    now = timezone.now()
    Deal.objects.filter(pk=deal.pk).update(
        last_movement_at=now - timedelta(days=5), rots_at=now + timedelta(days=9)
    )
    deal.refresh_from_db()
    services.deal_pause(
        acting_user=alice,
        deal=deal,
        version=1,
        until=timezone.localdate() + timedelta(days=30),
        reason="Summer",
    )
    later = now + timedelta(days=20)
    deal.refresh_from_db()
    services.deal_resume(acting_user=None, deal=deal, now=later)
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN
    # 20 days paused: the clock moved on by those 20 days, nothing more.
    assert abs((deal.rots_at - (now + timedelta(days=29))).total_seconds()) < 60
    assert StageTotal.objects.get(stage=stages_a[0]).count == 1


def test_the_scan_resumes_on_the_date_and_flags_a_deal_without_next_step(alice, deal):
    services.deal_pause(
        acting_user=alice,
        deal=deal,
        version=1,
        until=timezone.localdate() + timedelta(days=2),
        reason="Holiday",
    )
    services.flags_scan()
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.PAUSED
    services.flags_scan(now=timezone.now() + timedelta(days=2))
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN and deal.needs_attention
    assert open_flags(deal) == {FlagKind.NO_NEXT_STEP}


def test_resume_twice_changes_nothing_more(alice, deal):
    services.deal_pause(
        acting_user=alice,
        deal=deal,
        version=1,
        until=timezone.localdate() + timedelta(days=2),
        reason="x",
    )
    deal.refresh_from_db()
    services.deal_resume(acting_user=alice, deal=deal)
    first = Deal.objects.get(pk=deal.pk)
    services.deal_resume(acting_user=alice, deal=deal)
    again = Deal.objects.get(pk=deal.pk)
    assert (first.version, first.position, first.status) == (
        again.version,
        again.position,
        again.status,
    )


def test_kept_attention_counts_follow_flags(alice, stages_a):
    deals = [DealFactory(stage=stages_a[0], owner=alice) for _ in range(3)]
    services.flags_scan()
    assert StageTotal.objects.get(stage=stages_a[0]).attention == 3
    services.activity_create(
        acting_user=alice, deal=deals[0], subject="Call", due_date=timezone.localdate()
    )
    assert StageTotal.objects.get(stage=stages_a[0]).attention == 2
    deal = Deal.objects.get(pk=deals[1].pk)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version)
    # Moving is movement, not a next step: it still needs attention, in its new column.
    assert StageTotal.objects.get(stage=stages_a[0]).attention == 1
    assert StageTotal.objects.get(stage=stages_a[1]).attention == 1
    services.stage_totals_rebuild()
    assert StageTotal.objects.get(stage=stages_a[0]).attention == 1
    assert StageTotal.objects.get(stage=stages_a[1]).attention == 1
