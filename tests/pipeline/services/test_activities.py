"""Activity services: the next step kept on the deal, completing as movement, flags resolved
at once, and the rules that refuse (closed deals, a person from another team)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline import services
from pipeline.models import Activity, Deal, DealStatus, Flag, FlagKind
from tests.factories import DealFactory


@pytest.fixture
def deal(stages_a, alice):
    return DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")


def today():
    return timezone.localdate()


def earliest_open(deal):
    return (
        Activity.objects.filter(deal=deal, done_at__isnull=True)
        .order_by("due_date", "due_time", "pk")
        .first()
    )


def assert_next_step_kept(deal):
    row = Deal.objects.get(pk=deal.pk)
    first = earliest_open(deal)
    assert row.next_step_id == (first.pk if first else None)
    assert row.next_step_subject == (first.subject if first else "")
    assert row.next_step_due == (first.due_date if first else None)
    assert row.next_step_assignee_id == (first.assignee_id if first else None)


def plan(deal, user, subject, days, **extra):
    return services.activity_create(
        acting_user=user, deal=deal, subject=subject, due_date=today() + timedelta(days), **extra
    )


def test_next_step_is_the_earliest_open_activity_after_create_update_and_complete(deal, alice, bob):
    later = plan(deal, alice, "Send proposal", 5)
    assert_next_step_kept(deal)
    sooner = plan(deal, alice, "Call Jens", 1, assignee=bob)
    assert Deal.objects.get(pk=deal.pk).next_step_id == sooner.pk
    assert_next_step_kept(deal)

    services.activity_update(
        acting_user=alice, activity=later, data={"due_date": today(), "subject": "Send it today"}
    )
    row = Deal.objects.get(pk=deal.pk)
    assert row.next_step_id == later.pk and row.next_step_subject == "Send it today"
    assert_next_step_kept(deal)

    services.activity_complete(acting_user=alice, activity=later)
    assert Deal.objects.get(pk=deal.pk).next_step_id == sooner.pk
    assert_next_step_kept(deal)

    services.activity_complete(acting_user=bob, activity=sooner)
    assert Deal.objects.get(pk=deal.pk).next_step_id is None
    assert_next_step_kept(deal)


def test_assignee_defaults_to_the_deals_owner(deal, bob):
    activity = plan(deal, bob, "Call", 1)
    assert activity.assignee == deal.owner


def test_completing_is_movement_and_restarts_the_rotting_clock(deal, alice):
    long_ago = timezone.now() - timedelta(days=30)
    Deal.objects.filter(pk=deal.pk).update(
        last_movement_at=long_ago, rots_at=long_ago + timedelta(days=14)
    )
    activity = plan(deal, alice, "Call", 1)
    before = Deal.objects.get(pk=deal.pk)
    assert before.is_stale
    services.activity_complete(acting_user=alice, activity=activity)
    after = Deal.objects.get(pk=deal.pk)
    assert after.last_movement_at > long_ago + timedelta(days=29)
    assert after.rots_at > timezone.now() + timedelta(days=13)
    assert not after.is_stale


def test_completing_twice_changes_nothing_more(deal, alice):
    activity = plan(deal, alice, "Call", 1)
    first = services.activity_complete(acting_user=alice, activity=activity)
    moved = Deal.objects.get(pk=deal.pk).last_movement_at
    again = services.activity_complete(acting_user=alice, activity=activity)
    assert again.done_at == first.done_at
    assert Deal.objects.get(pk=deal.pk).last_movement_at == moved


def test_adding_a_next_step_resolves_the_no_next_step_flag_at_once(deal, alice):
    flag = Flag.objects.create(deal=deal, kind=FlagKind.NO_NEXT_STEP)
    deal.refresh_from_db()
    plan(deal, alice, "Call", 1)
    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert not Deal.objects.get(pk=deal.pk).needs_attention


def test_moving_an_overdue_step_forward_resolves_the_overdue_flag(deal, alice):
    activity = plan(deal, alice, "Call", -2)
    flag = Flag.objects.create(deal=deal, kind=FlagKind.OVERDUE_NEXT_STEP)
    services.activity_update(acting_user=alice, activity=activity, data={"due_date": today()})
    flag.refresh_from_db()
    assert flag.resolved_at is not None


@pytest.mark.parametrize("status", [DealStatus.WON, DealStatus.LOST])
def test_closed_deals_refuse_new_and_changed_activities(deal, alice, status):
    activity = plan(deal, alice, "Call", 1)
    Deal.objects.filter(pk=deal.pk).update(status=status)
    with pytest.raises(services.DealRuleError):
        plan(deal, alice, "Another call", 2)
    with pytest.raises(services.DealRuleError):
        services.activity_update(acting_user=alice, activity=activity, data={"subject": "New"})
    with pytest.raises(services.DealRuleError):
        services.activity_complete(acting_user=alice, activity=activity)
    assert Activity.objects.filter(deal=deal).count() == 1
    activity.refresh_from_db()
    assert activity.subject == "Call" and activity.done_at is None


def test_paused_deals_may_plan_a_step_for_when_they_resume(deal, alice):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.PAUSED)
    plan(deal, alice, "Call when the budget is in", 40)
    assert_next_step_kept(deal)


def test_assignee_from_another_team_is_refused(deal, alice, carol):
    with pytest.raises(services.DealRuleError):
        plan(deal, alice, "Call", 1, assignee=carol)
    activity = plan(deal, alice, "Call", 1)
    with pytest.raises(services.DealRuleError):
        services.activity_update(acting_user=alice, activity=activity, data={"assignee": carol})
    assert Activity.objects.filter(deal=deal).count() == 1
    activity.refresh_from_db()
    assert activity.assignee == alice
    assert_next_step_kept(deal)


def test_changing_a_done_activity_is_refused(deal, alice):
    activity = plan(deal, alice, "Call", 1)
    services.activity_complete(acting_user=alice, activity=activity)
    with pytest.raises(services.DealRuleError):
        services.activity_update(acting_user=alice, activity=activity, data={"subject": "New"})
    activity.refresh_from_db()
    assert activity.subject == "Call"
