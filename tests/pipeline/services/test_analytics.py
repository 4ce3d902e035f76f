"""The stage visits behind the analytics pages: an incremental refresh leaves exactly what a full
rebuild would, running it again changes nothing, and moves, closings, reopenings and reorders
after a refresh show after the next one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import Company
from pipeline import services
from pipeline.models import AnalyticsRefresh, LostReason, StageChange, StageMonth, StageVisit
from pipeline.selectors.analytics import AnalyticsFilters, funnel
from pipeline.services.analytics import MAX_AGE, analytics_refresh, analytics_refresh_if_stale
from tests.pipeline.selectors.test_analytics import generated  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

FIELDS = ("change_id", "deal_id", "stage_id", "entered_at", "left_at", "is_first", "moved_on")


MONTH_KEY = ("basis", "month", "pipeline_id", "stage_id", "owner_key", "product_area_key")
MONTH_FIELDS = (*MONTH_KEY, "tier", "days", "n", "moved", "lost", "won", "here", "seconds")


def _visits() -> list[tuple]:
    return list(StageVisit.objects.order_by("change_id").values_list(*FIELDS))


def _months() -> list[tuple]:
    return list(StageMonth.objects.order_by(*MONTH_FIELDS).values_list(*MONTH_FIELDS))


def _state() -> tuple[list, list]:
    """The visits and their monthly sums."""
    return _visits(), _months()


def _rebuilt() -> tuple[list, list]:
    analytics_refresh(full=True)
    return _state()


def _filters():
    today = timezone.localdate()
    return AnalyticsFilters(start=today - timedelta(days=30), end=today)


def test_visits_follow_the_history(generated, stages_a):  # noqa: F811
    visits = _visits()
    assert len(visits) == StageChange.objects.count()
    # one first entry per deal and stage entered
    firsts = {(v[1], v[2]) for v in visits if v[5]}
    assert len(firsts) == sum(1 for v in visits if v[5])
    # every stay but each deal's last ends at the deal's next entry
    assert sum(1 for v in visits if v[4] is None) == len({v[1] for v in visits})


def test_refresh_is_idempotent(generated):  # noqa: F811
    before = _state()
    assert before[1] and all(row[8] > 0 for row in before[1])  # no sums left at nothing
    analytics_refresh()
    analytics_refresh()
    assert _state() == before
    assert _rebuilt() == before


def test_changes_after_a_refresh_show_after_the_next(alice, stages_a):
    reason = LostReason.objects.create(name="Price")
    made = [
        services.deal_create(acting_user=alice, stage=stages_a[0], title=f"Deal {i}", owner=alice)
        for i in range(3)
    ]
    analytics_refresh()
    assert len(_visits()) == 3
    moving, closing, reopening = made
    services.deal_move(
        acting_user=alice, deal=moving, stage_id=stages_a[2].pk, version=moving.version
    )
    services.deal_mark_lost(acting_user=alice, deal=closing, version=None, reason=reason)
    reopening.refresh_from_db()
    services.deal_mark_won(acting_user=alice, deal=reopening, version=None)
    analytics_refresh()
    rows = {
        r.stage.pk: r for r in funnel(user=alice, filters=_filters(), pipeline=stages_a[0].pipeline)
    }
    assert rows[stages_a[0].pk].entered == 3
    assert rows[stages_a[0].pk].moved_on == 2  # the move and the win
    assert rows[stages_a[0].pk].lost == 1
    assert rows[stages_a[2].pk].entered == 1
    reopening.refresh_from_db()
    services.deal_reopen(acting_user=alice, deal=reopening, version=None)
    services.deal_move(acting_user=alice, deal=reopening, stage_id=stages_a[1].pk, version=None)
    analytics_refresh()
    rows = {
        r.stage.pk: r for r in funnel(user=alice, filters=_filters(), pipeline=stages_a[0].pipeline)
    }
    assert rows[stages_a[0].pk].won == 0
    assert rows[stages_a[1].pk].entered == 1 and rows[stages_a[1].pk].still_here == 1
    incremental = _state()
    assert _rebuilt() == incremental


def test_history_written_directly_is_caught_by_its_id(generated, stages_a):  # noqa: F811
    deal = StageChange.objects.order_by("pk").first().deal
    StageChange.objects.create(
        deal=deal, to_stage=stages_a[3], at=timezone.now() - timedelta(days=400)
    )
    analytics_refresh()
    incremental = _state()
    assert _rebuilt() == incremental


def test_a_reorder_of_stages_recomputes_moved_on(generated, stages_a):  # noqa: F811
    first, last = stages_a[0], stages_a[-1]
    first.position, last.position = last.position, first.position
    first.save(update_fields=["position"])
    last.save(update_fields=["position"])
    analytics_refresh()
    incremental = _state()
    assert _rebuilt() == incremental


def test_pages_refresh_when_stale_only(alice, stages_a):
    now = timezone.now()
    as_of, version = analytics_refresh_if_stale(now=now)
    assert AnalyticsRefresh.objects.get().refreshed_at == as_of
    services.deal_create(acting_user=alice, stage=stages_a[0], title="New", owner=alice)
    assert analytics_refresh_if_stale(now=as_of + MAX_AGE / 2) == (as_of, version)
    assert StageVisit.objects.count() == 0  # not yet: younger than MAX_AGE
    later, changed = analytics_refresh_if_stale(now=as_of + MAX_AGE * 2)
    assert later > as_of and changed == later
    assert StageVisit.objects.count() == 1


def test_a_refresh_that_finds_nothing_keeps_the_version(generated):  # noqa: F811
    state = AnalyticsRefresh.objects.get()
    analytics_refresh()
    again = AnalyticsRefresh.objects.get()
    # (deals written in the last OVERLAP are looked at again; redone, they count as changed)
    assert again.refreshed_at > state.refreshed_at
    AnalyticsRefresh.objects.update(updated_after=timezone.now())
    analytics_refresh()
    assert AnalyticsRefresh.objects.get().changed_at == again.changed_at


def test_deleting_a_deal_removes_its_visits_and_sums(alice, bob, stages_a):
    deal = services.deal_create(acting_user=alice, stage=stages_a[0], title="Gone", owner=alice)
    kept = services.deal_create(acting_user=alice, stage=stages_a[0], title="Kept", owner=alice)
    analytics_refresh()
    assert StageMonth.objects.get(days=-1).n == 2
    services.deal_delete(acting_user=bob, deal=deal)
    assert list(StageVisit.objects.values_list("deal_id", flat=True)) == [kept.pk]
    assert StageMonth.objects.get(days=-1).n == 1
    assert _state() == _rebuilt()


def test_a_tier_change_is_caught(generated, stages_a):  # noqa: F811
    from crm.services.tiers import company_tier_set

    company = Company.objects.filter(deals__isnull=False).first()
    new_tier = "A" if company.tier != "A" else "C"
    company_tier_set(acting_user=None, company=company, tier=new_tier)
    analytics_refresh()
    tiers = set(StageVisit.objects.filter(deal__company=company).values_list("tier", flat=True))
    assert tiers == {new_tier}
    incremental = _state()
    assert _rebuilt() == incremental


def test_task_and_command_refresh(alice, stages_a):
    from pipeline.tasks import analytics_refresh as task

    services.deal_create(acting_user=alice, stage=stages_a[0], title="One", owner=alice)
    task()
    assert StageVisit.objects.count() == 1
    StageVisit.objects.all().delete()
    call_command("analytics_rebuild", verbosity=0)
    assert StageVisit.objects.count() == 1
