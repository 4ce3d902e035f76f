"""Follow-up routines: a deal entering a stage gets the stage's activities, due in working days
in the organisation's time zone, in the move's own transaction, once."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Organisation
from crm.organisation import organisation_changed
from pipeline import services
from pipeline.models import (
    Activity,
    Deal,
    Flag,
    FlagKind,
    FollowUpRoutine,
    Stage,
    StageChange,
    StageTotal,
)
from pipeline.services.routines import routines_apply_on_entry, working_days_after
from tests.factories import DealFactory
from tests.test_celery import set_next_step
from tests.test_database_faults import database_error

pytestmark = pytest.mark.django_db

UTC = zoneinfo.ZoneInfo("UTC")
MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)
SUNDAY = date(2026, 11, 29)


def routine(stage: Stage, subject: str, days: int, *, kind="email", active=True):
    """A routine added as an admin adds it (the service keeps `Stage.has_routines`)."""
    admin_user = None  # the services take an acting user only for the record
    made = services.routine_create(
        acting_user=admin_user,
        stage=stage,
        subject=subject,
        kind=kind,
        due_in_days=days,
        is_active=active,
    )
    stage.refresh_from_db()
    return made


def planned(deal: Deal) -> list[tuple[str, date, int | None]]:
    return list(
        Activity.objects.filter(deal=deal, stage_change__isnull=False)
        .order_by("due_date", "pk")
        .values_list("subject", "due_date", "assignee_id")
    )


def organisation(**values) -> None:
    Organisation.objects.filter(pk=1).update(**values)
    organisation_changed()


@pytest.fixture
def fixed_now(monkeypatch):
    """Pin the services' clock (timezone.now) to a given instant."""

    def pin(instant: datetime) -> datetime:
        monkeypatch.setattr(timezone, "now", lambda: instant)
        return instant

    return pin


# --- working days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (MONDAY, 0, MONDAY),
        (MONDAY, 1, MONDAY + timedelta(days=1)),
        (MONDAY, 4, FRIDAY),
        (MONDAY, 5, MONDAY + timedelta(days=7)),
        (FRIDAY, 1, MONDAY + timedelta(days=7)),
        (FRIDAY, 3, MONDAY + timedelta(days=9)),
        (SATURDAY, 0, MONDAY + timedelta(days=7)),  # a weekend counts from the Monday after
        (SUNDAY, 1, MONDAY + timedelta(days=8)),
        (date(2026, 11, 25), 3, MONDAY + timedelta(days=7)),  # Wednesday + 3 = Monday
        (MONDAY, 10, MONDAY + timedelta(days=14)),
        (FRIDAY, 60, FRIDAY + timedelta(weeks=12)),
    ],
)
def test_working_days_skip_weekends(start, days, due):
    assert working_days_after(start, days) == due
    assert due.weekday() < 5


@pytest.mark.parametrize(
    ("zone", "due"),
    [
        # 23:30 UTC on Friday is already Saturday in Copenhagen: +1 working day is Tuesday.
        ("Europe/Copenhagen", MONDAY + timedelta(days=8)),
        # ... and still Friday in New York: +1 working day is Monday.
        ("America/New_York", MONDAY + timedelta(days=7)),
    ],
)
def test_due_dates_count_from_today_in_the_organisations_time_zone(
    alice, stages_a, fixed_now, zone, due
):
    organisation(time_zone=zone)
    routine(stages_a[1], "Send the summary", 1)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    fixed_now(datetime(2026, 11, 27, 23, 30, tzinfo=UTC))
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert planned(deal) == [("Send the summary", due, alice.pk)]


# --- entering a stage -------------------------------------------------------------------------


def test_a_drag_into_a_stage_plans_its_routines_for_the_owner(alice, bob, stages_a, fixed_now):
    fixed_now(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday
    later = routine(stages_a[1], "Call to walk through it", 7, kind="call")
    sooner = routine(stages_a[1], "Send a follow-up", 3)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    result = services.deal_move(acting_user=bob, deal=deal, stage_id=stages_a[1].pk, version=1)
    entry = StageChange.objects.get(deal=deal, to_stage=stages_a[1])
    activities = list(Activity.objects.filter(deal=deal).order_by("due_date"))
    assert [(a.subject, a.kind, a.due_date) for a in activities] == [
        ("Send a follow-up", "email", date(2026, 11, 26)),
        ("Call to walk through it", "call", date(2026, 12, 2)),
    ]
    assert {a.assignee_id for a in activities} == {alice.pk}  # the owner, not the mover
    assert {a.created_by_id for a in activities} == {bob.pk}
    assert {a.stage_change_id for a in activities} == {entry.pk}
    assert [a.routine_id for a in activities] == [sooner.pk, later.pk]
    assert all(a.is_from_routine for a in activities)
    # The deal had no next step: the earliest routine activity is now its next step.
    deal.refresh_from_db()
    assert deal.next_step_id == activities[0].pk
    assert (deal.next_step_subject, deal.next_step_due, deal.next_step_assignee_id) == (
        "Send a follow-up",
        date(2026, 11, 26),
        alice.pk,
    )
    assert result.deal.next_step_id == activities[0].pk  # the board renders from this


def test_inactive_routines_and_other_stages_plan_nothing(alice, stages_a):
    routine(stages_a[1], "Switched off", 1, active=False)
    routine(stages_a[2], "Another stage", 1)
    assert stages_a[1].has_routines is False
    deal = DealFactory(stage=stages_a[0], owner=alice)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert planned(deal) == []
    assert Deal.objects.get(pk=deal.pk).next_step_id is None


def test_a_stage_without_routines_costs_the_move_no_query(
    alice, stages_a, django_assert_num_queries
):
    """`Stage.has_routines` is read from the stage row the move has locked already."""
    deal = DealFactory(stage=stages_a[0], owner=alice)
    stage_change = StageChange.objects.create(deal=deal, to_stage=stages_a[1])
    with django_assert_num_queries(0):
        assert (
            routines_apply_on_entry(
                deal=deal, stage=stages_a[1], stage_change=stage_change, now=timezone.now()
            )
            == []
        )


def test_a_stage_with_routines_costs_a_select_an_insert_and_the_next_step(
    alice, stages_a, django_assert_num_queries
):
    routine(stages_a[1], "One", 1)
    routine(stages_a[1], "Two", 2)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    stage_change = StageChange.objects.create(deal=deal, to_stage=stages_a[1])
    # Queries: the stage's active routines; one INSERT of both activities; the deal's next step.
    with django_assert_num_queries(3):
        routines_apply_on_entry(
            deal=deal, stage=stages_a[1], stage_change=stage_change, now=timezone.now()
        )


def test_an_earlier_next_step_is_kept_and_a_later_one_gives_way(alice, stages_a, fixed_now):
    fixed_now(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday
    routine(stages_a[1], "Send a follow-up", 3)  # due Thursday the 26th
    keeps = DealFactory(stage=stages_a[0], owner=alice, title="keeps")
    mine = set_next_step(keeps, date(2026, 11, 25), subject="Own call")
    gives_way = DealFactory(stage=stages_a[0], owner=alice, title="gives way")
    set_next_step(gives_way, date(2026, 12, 10), subject="Much later")
    same_day = DealFactory(stage=stages_a[0], owner=alice, title="same day")
    first = set_next_step(same_day, date(2026, 11, 26), subject="Same day, planned first")
    for deal in (keeps, gives_way, same_day):
        services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    keeps.refresh_from_db()
    gives_way.refresh_from_db()
    same_day.refresh_from_db()
    assert keeps.next_step_id == mine.pk
    assert (gives_way.next_step_subject, gives_way.next_step_due) == (
        "Send a follow-up",
        date(2026, 11, 26),
    )
    assert same_day.next_step_id == first.pk  # one day, no times: the first planned comes first


def test_the_next_step_kept_on_the_deal_is_its_earliest_open_activity(alice, stages_a):
    """The same answer as the activity services' own refresh (the definition)."""
    routine(stages_a[1], "Follow up", 2)
    routine(stages_a[1], "Check in", 0, kind="call")
    deal = DealFactory(stage=stages_a[0], owner=alice)
    set_next_step(deal, timezone.localdate() + timedelta(days=30))
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    deal.refresh_from_db()
    earliest = (
        Activity.objects.filter(deal=deal, done_at__isnull=True).order_by("due_date", "pk").first()
    )
    assert deal.next_step_id == earliest.pk and earliest.subject == "Check in"


def test_a_routine_next_step_resolves_the_no_next_step_flag(alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    services.flags_scan()
    deal.refresh_from_db()
    assert deal.needs_attention
    assert Flag.objects.filter(deal=deal, kind=FlagKind.NO_NEXT_STEP, resolved_at=None).exists()
    routine(stages_a[1], "Send a follow-up", 1)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version)
    deal.refresh_from_db()
    assert not Flag.objects.filter(deal=deal, resolved_at=None).exists()
    assert deal.needs_attention is False
    total = StageTotal.objects.get(stage=stages_a[1])
    assert (total.count, total.attention) == (1, 0)
    assert StageTotal.objects.get(stage=stages_a[0]).attention == 0


def test_a_routine_does_not_hide_an_overdue_next_step(alice, stages_a):
    """The next step is the earliest open activity: one overdue stays the next step, and
    stays flagged, until someone does it or moves it."""
    deal = DealFactory(stage=stages_a[0], owner=alice)
    overdue = set_next_step(deal, timezone.localdate() - timedelta(days=3))
    services.flags_scan()
    routine(stages_a[1], "Call back", 0, kind="call")
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    deal.refresh_from_db()
    assert deal.next_step_id == overdue.pk
    assert Flag.objects.filter(deal=deal, kind=FlagKind.OVERDUE_NEXT_STEP, resolved_at=None)
    assert deal.needs_attention is True
    assert StageTotal.objects.get(stage=stages_a[1]).attention == 1


def test_an_unassigned_deals_routines_go_to_the_person_who_moved_it(alice, stages_a):
    routine(stages_a[1], "Send a follow-up", 1)
    deal = DealFactory(stage=stages_a[0], owner=None)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert [a for _, _, a in planned(deal)] == [alice.pk]


def test_a_new_deal_gets_its_first_stages_routines(alice, stages_a):
    routine(stages_a[0], "Call to understand the need", 1, kind="call")
    deal = services.deal_create(acting_user=alice, stage=stages_a[0], title="New")
    entry = StageChange.objects.get(deal=deal)
    activity = Activity.objects.get(deal=deal)
    assert (activity.subject, activity.stage_change_id, activity.assignee_id) == (
        "Call to understand the need",
        entry.pk,
        alice.pk,
    )
    deal.refresh_from_db()
    assert deal.next_step_id == activity.pk


def test_a_new_deal_with_its_own_next_step_keeps_the_earliest(alice, stages_a):
    routine(stages_a[0], "Routine call", 5, kind="call")
    today = timezone.localdate()
    deal = services.deal_create(
        acting_user=alice,
        stage=stages_a[0],
        title="With a step",
        next_step=services.NextStep(subject="Call today", due_date=today),
    )
    deal.refresh_from_db()
    assert Activity.objects.filter(deal=deal).count() == 2
    assert deal.next_step_subject == "Call today"


def test_exit_criteria_confirmed_on_the_drop_then_routines(alice, stages_a):
    criterion = services.exit_criterion_create(
        acting_user=None, stage=stages_a[0], text="Customer confirmed the need", is_required=True
    )
    routine(stages_a[1], "Send a follow-up", 1)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    with pytest.raises(services.ExitCriteriaUnmet):
        services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert planned(deal) == []  # refused: nothing planned
    services.deal_move(
        acting_user=alice,
        deal=deal,
        stage_id=stages_a[1].pk,
        version=1,
        criteria=[criterion.pk],
    )
    assert [s for s, _, _ in planned(deal)] == ["Send a follow-up"]


def test_moving_back_plans_the_earlier_stages_routines(alice, stages_a):
    routine(stages_a[0], "Requalify", 1, kind="call")
    deal = DealFactory(stage=stages_a[1], owner=alice)
    services.deal_move_back(acting_user=alice, deal=deal, version=1)
    assert [s for s, _, _ in planned(deal)] == ["Requalify"]


def test_every_entry_plans_again_but_a_replayed_or_repeated_move_does_not(alice, stages_a):
    routine(stages_a[1], "Send a follow-up", 1)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert len(planned(deal)) == 1
    # The same drop replayed (same version): a conflict, nothing new.
    with pytest.raises(services.DealConflict):
        services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    # A drop into the stage it is in already (the form without a version, or a reorder).
    deal.refresh_from_db()
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=None)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=2)
    assert len(planned(deal)) == 1
    # Leaving and entering again is a new entry: the routine plans again.
    deal = services.deal_move(
        acting_user=alice, deal=deal, stage_id=stages_a[0].pk, version=None
    ).deal
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=None)
    assert len(planned(deal)) == 2
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1]).count() == 2


def test_reopening_and_resuming_plan_nothing(alice, stages_a):
    routine(stages_a[0], "Requalify", 1, kind="call")
    deal = DealFactory(stage=stages_a[0], owner=alice)
    won = services.deal_mark_won(acting_user=alice, deal=deal, version=1)
    services.deal_reopen(acting_user=alice, deal=won, version=won.version)
    paused = services.deal_pause(
        acting_user=alice,
        deal=Deal.objects.get(pk=deal.pk),
        version=None,
        until=timezone.localdate() + timedelta(days=5),
        reason="Budget",
    )
    services.deal_resume(acting_user=alice, deal=paused)
    assert planned(deal) == []


def test_the_database_refuses_a_second_activity_for_one_entry_and_routine(alice, stages_a):
    made = routine(stages_a[1], "Send a follow-up", 1)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    entry = StageChange.objects.get(deal=deal, to_stage=stages_a[1])
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.create(
            deal=deal,
            subject="again",
            due_date=timezone.localdate(),
            stage_change=entry,
            routine=made,
        )
    assert len(planned(deal)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retried_transaction_plans_once(alice, stages_a, monkeypatch):
    """PostgreSQL may pick the move as a deadlock victim after its routines were written: the
    rollback takes them with it and the second run plans them once."""
    from pipeline.services import deals as deal_services

    routine(stages_a[1], "Send a follow-up", 1)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    real = deal_services._totals_move
    failures = []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append(Activity.objects.filter(deal=deal).count())
            raise database_error("40P01")
        return real(*args, **kwargs)

    monkeypatch.setattr(deal_services, "_totals_move", fail_once)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert failures == [1]  # the first run had planned it before it failed
    assert len(planned(deal)) == 1
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1]).count() == 1
    assert FollowUpRoutine.objects.count() == 1


# --- admins edit a stage's routines -------------------------------------------------------------


def routines_of(stage: Stage) -> list[tuple[str, str, int, bool]]:
    return list(
        FollowUpRoutine.objects.filter(stage=stage)
        .order_by("position", "pk")
        .values_list("subject", "kind", "due_in_days", "is_active")
    )


def test_admin_adds_changes_orders_and_removes_routines(admin, stages_a):
    stage = stages_a[2]
    first = services.routine_create(
        acting_user=admin, stage=stage, subject=" Send a follow-up ", kind="email", due_in_days=3
    )
    second = services.routine_create(
        acting_user=admin, stage=stage, subject="Call", kind="call", due_in_days=7
    )
    assert routines_of(stage) == [
        ("Send a follow-up", "email", 3, True),
        ("Call", "call", 7, True),
    ]
    assert Stage.objects.get(pk=stage.pk).has_routines
    assert services.routine_move(acting_user=admin, routine=second, direction="up")
    assert [r[0] for r in routines_of(stage)] == ["Call", "Send a follow-up"]
    services.routine_update(
        acting_user=admin,
        routine=first,
        subject="Send the follow-up",
        kind="email",
        due_in_days=2,
        is_active=False,
    )
    assert routines_of(stage)[1] == ("Send the follow-up", "email", 2, False)
    assert Stage.objects.get(pk=stage.pk).has_routines  # "Call" is still active
    services.routine_delete(acting_user=admin, routine=second)
    assert Stage.objects.get(pk=stage.pk).has_routines is False  # only an inactive one left
    services.routine_update(
        acting_user=admin,
        routine=first,
        subject="Send the follow-up",
        kind="email",
        due_in_days=2,
        is_active=True,
    )
    assert Stage.objects.get(pk=stage.pk).has_routines


def test_removing_a_routine_keeps_the_activities_it_planned(admin, alice, stages_a):
    made = routine(stages_a[1], "Send a follow-up", 1)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    services.routine_delete(acting_user=admin, routine=made)
    activity = Activity.objects.get(deal=deal)
    assert activity.routine_id is None and activity.is_from_routine


@pytest.mark.parametrize(
    ("subject", "kind", "days", "message"),
    [
        ("   ", "email", 1, "Say what to do."),
        ("x" * 201, "email", 1, "200 characters"),
        ("Call", "fax", 1, "Pick a call"),
        ("Call", "call", 61, "0 to 60 working days"),
        ("Call", "call", -1, "0 to 60 working days"),
        ("send a follow-up", "call", 3, "already plans"),
    ],
)
def test_bad_routines_are_refused_with_a_clear_message(
    admin, stages_a, subject, kind, days, message
):
    routine(stages_a[1], "Send a follow-up", 3)
    before = routines_of(stages_a[1])
    with pytest.raises(services.SettingsError, match=message):
        services.routine_create(
            acting_user=admin, stage=stages_a[1], subject=subject, kind=kind, due_in_days=days
        )
    assert routines_of(stages_a[1]) == before


def test_a_stage_holds_at_most_ten_routines(admin, stages_a):
    for i in range(10):
        routine(stages_a[1], f"Step {i}", i)
    with pytest.raises(services.SettingsError, match="at most 10"):
        routine(stages_a[1], "One more", 1)
    assert FollowUpRoutine.objects.filter(stage=stages_a[1]).count() == 10


def test_routines_of_a_removed_stage_cannot_change(admin, stages_a):
    made = routine(stages_a[3], "Send a follow-up", 1)
    services.stage_delete(acting_user=admin, stage=stages_a[3])
    with pytest.raises(services.SettingsError, match="removed"):
        services.routine_update(
            acting_user=admin,
            routine=made,
            subject="Other",
            kind="call",
            due_in_days=1,
            is_active=True,
        )
