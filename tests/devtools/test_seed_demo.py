from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Max
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from crm.models import Company, Contact
from pipeline import tasks
from pipeline.forecasting import KINDS, monday, period_add, period_start
from pipeline.models import (
    Activity,
    Deal,
    DealStatus,
    Flag,
    FlagKind,
    ForecastSnapshot,
    ForecastSnapshotLine,
    ForecastSnapshotRun,
    Notification,
    NotificationKind,
    Pipeline,
    SalesTarget,
    Stage,
    StageChange,
)
from pipeline.money import rates_on, round_cents
from pipeline.selectors.forecast import (
    ForecastFilters,
    changes_since_snapshot,
    forecast_accuracy,
)
from pipeline.selectors.review import ReviewClock, review_for_team
from pipeline.services.forecasts import forecast_snapshot_take
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HISTORY_MODELS = [ForecastSnapshotRun, ForecastSnapshotLine, ForecastSnapshot, SalesTarget]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = [Team, User, Membership, Pipeline, Stage, Company, Contact, Deal, StageChange]
    models += [Activity, Flag, Notification]
    return {model.__name__: model.objects.count() for model in models}


def test_creates_teams_and_users_with_their_roles():
    seed()

    assert set(Team.objects.values_list("name", flat=True)) == {"North", "South"}
    roles = set(Membership.objects.values_list("user__username", "team__name", "role"))
    assert roles == {
        ("admin", "North", Role.ADMIN),
        ("maria", "North", Role.MANAGER),
        ("sven", "North", Role.SALESPERSON),
        ("lena", "North", Role.SALESPERSON),
        ("karl", "South", Role.SALESPERSON),
    }
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not User.objects.filter(is_superuser=True).exclude(username="admin").exists()
    assert not User.objects.filter(first_name="").exists()


def test_creates_pipelines_with_their_stages():
    seed()

    stage_counts = set(
        Pipeline.objects.annotate(stage_count=Count("stages")).values_list(
            "team__name", "name", "stage_count"
        )
    )
    assert stage_counts == {
        ("North", "New business", 6),
        ("North", "Key accounts", 4),
        ("South", "Sales South", 5),
    }
    new_business = Stage.objects.filter(pipeline__name="New business").order_by("position")
    assert new_business.first().name == "Lead in"
    assert new_business.last().name == "Negotiation"
    probabilities = list(new_business.values_list("probability", flat=True))
    assert probabilities == sorted(probabilities)
    assert all(7 <= stage.rot_days <= 30 for stage in Stage.objects.all())


def test_companies_belong_to_a_team_and_are_owned_by_its_salespeople():
    seed()

    assert Company.objects.count() >= 30
    for company in Company.objects.select_related("owner", "team"):
        assert company.domain
        assert company.owner.memberships.get().team == company.team
        assert 1 <= company.contacts.count() <= 3


def test_open_deal_positions_are_unique_within_their_stage():
    seed("--deals", "50")

    duplicates = (
        Deal.objects.filter(status=DealStatus.OPEN)
        .values("stage", "position")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()


def test_deals_cover_every_status_with_consistent_fields():
    seed()

    deals = Deal.objects.all()
    assert {deal.status for deal in deals} == set(DealStatus.values)
    assert deals.filter(owner__isnull=True).exists()
    assert set(deals.values_list("currency", flat=True)) >= {"DKK", "SEK", "NOK", "EUR"}
    for deal in deals:
        assert deal.stage.pipeline_id == deal.pipeline_id
        if deal.status == DealStatus.LOST:
            assert deal.lost_reason_id is not None
            assert deal.lost_from_stage_id == deal.stage_id
        if deal.status in (DealStatus.WON, DealStatus.LOST):
            assert deal.closed_at is not None and deal.closed_at > deal.stage_entered_at
        else:
            assert deal.closed_at is None
        if deal.status == DealStatus.PAUSED:
            assert deal.paused_until is not None


def test_every_deal_has_a_stage_history_ending_in_its_stage():
    seed("--deals", "20")

    history: dict[int, list[StageChange]] = {}
    for change in StageChange.objects.order_by("at", "pk"):
        history.setdefault(change.deal_id, []).append(change)
    for deal in Deal.objects.all():
        changes = history[deal.pk]
        assert changes[0].from_stage_id is None
        assert changes[0].at == deal.created_at
        assert changes[-1].to_stage_id == deal.stage_id
        assert changes[-1].at == deal.stage_entered_at
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert after.at > before.at


def test_some_deals_have_history_going_back_months():
    seed()

    assert StageChange.objects.filter(from_stage__isnull=False).count() > 50
    oldest = Deal.objects.order_by("created_at").first()
    newest_change = StageChange.objects.order_by("-at").first()
    assert (newest_change.at - oldest.created_at).days > 90


def test_running_twice_changes_nothing():
    seed()
    before = counts()

    seed()

    assert counts() == before


def test_extra_deals_are_appended_to_new_business():
    seed()
    pipeline = Pipeline.objects.get(team__name="North", name="New business")
    bottom_before = dict(
        Deal.objects.filter(pipeline=pipeline)
        .values("stage")
        .annotate(bottom=Max("position"))
        .values_list("stage", "bottom")
    )
    before = counts()
    open_before = set(Deal.objects.filter(pipeline=pipeline).values_list("pk", flat=True))

    seed("--deals", "500")

    added = Deal.objects.filter(pipeline=pipeline).exclude(pk__in=open_before)
    assert added.count() == 500
    assert added.filter(status=DealStatus.OPEN).count() == 500
    assert Deal.objects.count() == before["Deal"] + 500
    assert StageChange.objects.count() == before["StageChange"] + 500
    assert added.values("stage").distinct().count() == 6
    assert set(added.values_list("owner__username", flat=True)) == {"sven", "lena", "maria", None}
    assert not added.exclude(company__team__name="North").exists()
    for deal in added:
        assert deal.position > bottom_before.get(deal.stage_id, 0)
        assert deal.position % 1024 == 0
        assert [(c.from_stage_id, c.to_stage_id) for c in deal.stage_changes.all()] == [
            (None, deal.stage_id)
        ]


def test_extra_deals_are_added_again_on_a_second_run():
    seed("--deals", "30")
    before = counts()

    seed("--deals", "30")

    after = counts()
    assert after["Deal"] == before["Deal"] + 30
    # The new deals have no next step: the scan flags them (and tells their owners).
    grown = ("Deal", "StageChange", "Flag", "Notification")
    assert {k: v for k, v in after.items() if k not in grown} == {
        k: v for k, v in before.items() if k not in grown
    }


def test_if_empty_does_nothing_when_users_exist():
    UserFactory(username="someone")
    before = counts()

    output = seed("--if-empty", "--deals", "10")

    assert counts() == before
    assert "nothing seeded" in output


def test_if_empty_seeds_an_empty_database():
    seed("--if-empty")

    assert User.objects.filter(username="maria").exists()
    assert Deal.objects.exists()


def test_the_given_password_works_and_is_reset_on_every_run():
    seed("--password", "s3cret-demo")
    assert all(user.check_password("s3cret-demo") for user in User.objects.all())

    output = seed("--password", "other")

    assert all(user.check_password("other") for user in User.objects.all())
    assert "other" in output and "maria" in output


def test_same_seed_gives_the_same_deals():
    seed("--seed", "7")
    first = list(Deal.objects.order_by("pk").values_list("title", "value", "currency", "status"))
    StageChange.objects.all().delete()
    Deal.objects.all().delete()

    seed("--seed", "7")

    second = list(Deal.objects.order_by("pk").values_list("title", "value", "currency", "status"))
    assert second == first


# --- activities, next steps, flags and notifications -----------------------------------------


def test_every_open_deal_keeps_its_earliest_open_activity_as_next_step():
    seed()

    open_deals = Deal.objects.filter(status__in=[DealStatus.OPEN, DealStatus.PAUSED])
    for deal in open_deals:
        earliest = (
            Activity.objects.filter(deal=deal, done_at__isnull=True)
            .order_by("due_date", F("due_time").asc(nulls_last=True), "pk")
            .first()
        )
        assert deal.next_step == earliest
        assert deal.next_step_subject == (earliest.subject if earliest else "")
        assert deal.next_step_due == (earliest.due_date if earliest else None)
        assert deal.next_step_assignee_id == (earliest.assignee_id if earliest else None)
    assert not Activity.objects.filter(
        deal__status__in=[DealStatus.WON, DealStatus.LOST], done_at__isnull=True
    ).exists()


def test_most_open_deals_have_history_and_a_next_step_some_due_today_some_overdue():
    seed()
    today = timezone.localdate()

    open_deals = Deal.objects.filter(status=DealStatus.OPEN)
    total = open_deals.count()
    without = open_deals.filter(next_step__isnull=True).count()
    assert 0.05 * total <= without <= 0.3 * total
    with_history = open_deals.filter(activities__done_at__isnull=False).distinct().count()
    assert with_history >= 0.7 * total
    assert open_deals.filter(next_step_due=today).exists()
    assert open_deals.filter(
        next_step_due__lt=today, next_step_due__gte=today - timedelta(7)
    ).exists()
    assert open_deals.filter(
        next_step_due__gt=today, next_step_due__lte=today + timedelta(6)
    ).exists()
    # Some steps are someone else's than the owner's (the card names them).
    assert open_deals.exclude(next_step_assignee=F("owner")).exclude(owner__isnull=True).exists()
    now = timezone.now()
    assert not Activity.objects.filter(done_at__gt=now).exists()


def test_movement_is_the_latest_of_entering_the_stage_and_completing_an_activity():
    seed()

    for deal in Deal.objects.select_related("stage").prefetch_related("activities"):
        done = [a.done_at for a in deal.activities.all() if a.done_at is not None]
        assert deal.last_movement_at == max([deal.stage_entered_at, *done])
        assert deal.rots_at == deal.last_movement_at + timedelta(days=deal.stage.rot_days)
        if deal.closed_at:
            assert deal.last_movement_at <= deal.closed_at


def test_paused_deals_say_why_and_until_when():
    seed()

    paused = Deal.objects.filter(status=DealStatus.PAUSED)
    assert paused.exists()
    for deal in paused:
        assert deal.pause_reason
        assert deal.paused_until > timezone.localdate()
        assert deal.stage_entered_at <= deal.paused_at <= timezone.now()
        assert deal.last_movement_at <= deal.paused_at


def test_the_scan_has_run_so_flags_and_warnings_show_at_once():
    seed()

    open_flags = Flag.objects.filter(resolved_at__isnull=True)
    assert set(open_flags.values_list("kind", flat=True)) == set(FlagKind.values)
    stale = Deal.objects.filter(status=DealStatus.OPEN, rots_at__lt=timezone.now())
    assert 1 <= stale.count() <= 0.25 * Deal.objects.filter(status=DealStatus.OPEN).count()
    assert set(stale.values_list("pk", flat=True)) == set(
        open_flags.filter(kind=FlagKind.STALE).values_list("deal", flat=True)
    )
    assert not open_flags.exclude(deal__status=DealStatus.OPEN).exists()
    flagged = set(open_flags.values_list("deal", flat=True))
    assert set(Deal.objects.needing_attention().values_list("pk", flat=True)) == flagged
    # The board's kept column counts include the attention counts.
    stage = Deal.objects.needing_attention().filter(status=DealStatus.OPEN).first().stage
    assert (
        sum(t.attention for t in stage.totals.all())
        == stage.deals.filter(status=DealStatus.OPEN).needing_attention().count()
    )


def test_demo_users_find_notifications_waiting():
    seed()

    sven = User.objects.get(username="sven")
    assert Notification.objects.filter(
        user=sven, kind=NotificationKind.DEAL_ASSIGNED, actor__username="maria"
    ).exists()
    assert Notification.objects.filter(user=sven, read_at__isnull=True).exists()
    assert Notification.objects.filter(read_at__isnull=False).exists()
    # The first flag scan tells each owner of flagged deals once, in one summary.
    owners = set(
        Flag.objects.filter(resolved_at__isnull=True, deal__owner__isnull=False).values_list(
            "deal__owner_id", flat=True
        )
    )
    summaries = Notification.objects.filter(kind=NotificationKind.FLAGS_RAISED)
    assert sorted(summaries.values_list("user_id", flat=True)) == sorted(owners)
    assert not Notification.objects.filter(kind=NotificationKind.FLAG_RAISED).exists()
    for notification in Notification.objects.exclude(kind=NotificationKind.FLAGS_RAISED):
        assert notification.user_id != notification.actor_id
        assert Deal.objects.visible_to(notification.user).filter(pk=notification.deal_id).exists()


def test_running_twice_adds_no_activities_flags_or_notifications():
    seed()
    before = (Activity.objects.count(), Flag.objects.count(), Notification.objects.count())

    seed()

    assert (Activity.objects.count(), Flag.objects.count(), Notification.objects.count()) == before


def test_same_seed_gives_the_same_activities():
    def plan():
        return list(
            Activity.objects.order_by("pk").values_list(
                "deal__title", "kind", "subject", "due_date", "due_time", "assignee__username"
            )
        )

    seed("--seed", "7")
    first = plan()
    Notification.objects.all().delete()
    Flag.objects.all().delete()
    Deal.objects.update(next_step=None)
    Activity.objects.all().delete()
    StageChange.objects.all().delete()
    Deal.objects.all().delete()

    seed("--seed", "7")

    assert plan() == first


def test_extra_deals_get_no_activities_but_are_flagged():
    seed()
    activities = Activity.objects.count()

    seed("--deals", "40")

    assert Activity.objects.count() == activities
    extra = Deal.objects.filter(next_step__isnull=True, activities__isnull=True, status="open")
    assert extra.count() >= 40
    for deal in extra:
        assert deal.flags.filter(kind=FlagKind.NO_NEXT_STEP, resolved_at__isnull=True).exists()
        assert deal.rots_at == deal.last_movement_at + timedelta(days=deal.stage.rot_days)


# --- forecast history: past snapshots, outcomes and targets ----------------------------------


def test_weekly_snapshots_exist_for_past_mondays_but_not_this_week():
    seed()
    this_week = monday(timezone.localdate())

    weeks = list(ForecastSnapshotRun.objects.order_by("week").values_list("week", flat=True))
    assert len(weeks) >= 12
    assert this_week not in weeks
    assert weeks[-1] == this_week - timedelta(weeks=1)
    assert all(week.weekday() == 0 for week in weeks)
    assert weeks == [weeks[0] + timedelta(weeks=i) for i in range(len(weeks))]
    for run in ForecastSnapshotRun.objects.all():
        assert run.deal_count == run.lines.count() > 0
        assert not run.lines.exclude(status=DealStatus.OPEN).exists()


def test_snapshot_lines_are_the_deals_open_then_in_the_stage_they_were_in():
    seed()

    run = ForecastSnapshotRun.objects.order_by("-week").first()
    lines = {line.deal_id: line for line in run.lines.select_related("stage")}
    for deal in Deal.objects.select_related("stage"):
        was_open = (
            deal.created_at <= run.taken_at
            and (deal.closed_at is None or deal.closed_at > run.taken_at)
            and (deal.paused_at is None or deal.paused_at > run.taken_at)
        )
        assert (deal.pk in lines) == was_open, deal
        if not was_open:
            continue
        line = lines[deal.pk]
        change = deal.stage_changes.filter(at__lte=run.taken_at).order_by("-at", "-pk").first()
        assert line.stage_id == change.to_stage_id
        assert line.owner_id == deal.owner_id and line.pipeline_id == deal.pipeline_id
        assert line.weighted == round_cents(line.value * line.stage.probability / Decimal(100))


def test_every_runs_totals_are_the_sums_of_its_lines_per_kind():
    seed()

    for run in ForecastSnapshotRun.objects.all():
        for kind in KINDS:
            expected: dict = {}
            for line in run.lines.all():
                key = (
                    line.pipeline_id,
                    line.owner_id,
                    line.stage_id,
                    period_start(line.expected_close_date, kind),
                )
                n, v, w = expected.get(key, (0, Decimal(0), Decimal(0)))
                expected[key] = (n + 1, v + line.value, w + line.weighted)
            totals = {
                (t.pipeline_id, t.owner_id, t.stage_id, t.period_start): (
                    t.count,
                    t.value,
                    t.weighted,
                )
                for t in ForecastSnapshot.objects.filter(run=run, period_kind=kind)
            }
            assert totals == expected
            assert ForecastSnapshot.objects.filter(run=run, period_kind=kind).count() == len(totals)
        assert not ForecastSnapshot.objects.filter(run=run).exclude(week=run.week).exists()


def test_last_weeks_snapshot_differs_from_the_live_deals():
    seed()
    maria = User.objects.get(username="maria")

    run, changes = changes_since_snapshot(
        user=maria, filters=ForecastFilters(kind="month"), today=timezone.localdate()
    )

    assert run.week == monday(timezone.localdate()) - timedelta(weeks=1)
    reasons = {reason for by_reason in changes.values() for reason in by_reason}
    assert {"new", "moved", "slipped", "value", "won", "lost"} <= reasons


def test_won_deals_closed_in_each_of_the_last_months_and_accuracy_has_something_to_say():
    seed()
    today = timezone.localdate()
    sven = User.objects.get(username="sven")

    month = period_start(today, "month")
    for months_ago in range(1, 6):
        start = period_add(month, "month", -months_ago)
        won = Deal.objects.filter(
            status=DealStatus.WON,
            closed_at__date__gte=start,
            closed_at__date__lt=period_add(start, "month", 1),
        )
        assert won.count() >= 3, start
    accuracy = forecast_accuracy(user=sven, filters=ForecastFilters(kind="month"), today=today)
    svens = [row for row in accuracy if row.owner_id == sven.pk]
    assert any(row.accuracy_1 is not None for row in svens)
    assert any(row.accuracy_4 is not None for row in svens)
    assert any(row.actual > 0 for row in svens)


def test_won_deals_stage_history_ends_in_the_last_stage_before_closing():
    seed()

    for deal in Deal.objects.filter(status=DealStatus.WON).select_related("stage"):
        assert deal.stage == deal.pipeline.stages.order_by("-position").first()
        assert deal.stage_changes.order_by("-at").first().at < deal.closed_at


def test_reps_and_the_manager_have_monthly_and_quarterly_targets_that_differ():
    seed()
    month = period_start(timezone.localdate(), "month")

    for username in ("sven", "lena", "karl", "maria"):
        targets = SalesTarget.objects.filter(user__username=username)
        months = set(targets.filter(period_kind="month").values_list("period_start", flat=True))
        assert period_add(month, "month", -6) in months
        assert period_add(month, "month", 6) in months
        assert targets.filter(period_kind="quarter", period_start=period_start(month, "quarter"))
        assert not targets.filter(amount__lte=0).exists()
    assert not SalesTarget.objects.filter(user__username="admin").exists()
    sven = SalesTarget.objects.get(user__username="sven", period_kind="month", period_start=month)
    lena = SalesTarget.objects.get(user__username="lena", period_kind="month", period_start=month)
    assert lena.amount > 2 * sven.amount


def test_running_twice_adds_no_runs_lines_or_targets():
    seed()
    before = [m.objects.count() for m in HISTORY_MODELS]

    seed()

    assert [m.objects.count() for m in HISTORY_MODELS] == before


def _lines(run) -> dict:
    return {
        line.deal_id: (
            line.stage_id,
            line.owner_id,
            line.status,
            line.expected_close_date,
            line.value,
            line.weighted,
        )
        for line in run.lines.all()
    }


def _totals(run) -> set:
    return set(
        ForecastSnapshot.objects.filter(run=run).values_list(
            "week",
            "pipeline_id",
            "owner_id",
            "stage_id",
            "period_kind",
            "period_start",
            "count",
            "value",
            "weighted",
        )
    )


def test_last_weeks_snapshot_rebuilt_mid_week_by_the_job_equals_the_seeded_one():
    """The seed writes each past Monday's snapshot from its own simulation (stages, slips,
    value changes, closings and pauses as they stood); the job, run on that week's
    Wednesday afternoon instead, rebuilds the same week's start from the database's history
    (stage changes, revisions, closing and pause times) and writes the same lines and
    totals."""
    seed()
    last = ForecastSnapshotRun.objects.order_by("-week").first()
    seeded_lines, seeded_totals, seeded_count = _lines(last), _totals(last), last.deal_count
    week_start = last.taken_at
    last.delete()

    wednesday = week_start + timedelta(days=2, hours=14)
    run = forecast_snapshot_take(now=wednesday)

    assert run.week == monday(timezone.localdate()) - timedelta(weeks=1)
    assert run.taken_at == week_start
    assert run.deal_count == seeded_count == len(seeded_lines) > 50
    assert _lines(run) == seeded_lines
    assert _totals(run) == seeded_totals


def test_the_jobs_run_after_seeding_keep_the_weeks_changes():
    """After seeding, the jobs run as the beat runs them (the flag scan, then the snapshot
    poll, mid-week): this week's snapshot is the pipeline as it stood at the week's start,
    not as it stands now, so the review and the forecast still show what changed this week."""
    seed()
    maria = User.objects.get(username="maria")
    north = Team.objects.get(name="North")
    this_week = monday(timezone.localdate())

    tasks.flags_scan()
    count = tasks.forecast_snapshot()

    run = ForecastSnapshotRun.objects.get(week=this_week)
    week_start = timezone.make_aware(datetime.combine(this_week, time.min))
    assert run.taken_at == week_start
    assert count == run.deal_count == run.lines.count()
    # Independently, in plain Python: each deal open at the week's start, in the stage it
    # had entered by then, with its value and close date from before its first change since.
    expected = {}
    for deal in Deal.objects.select_related("stage"):
        if deal.created_at > week_start:
            continue
        first = deal.revisions.filter(at__gt=week_start).order_by("at", "pk").first()
        status = first.status if first else deal.status
        if first is None and deal.closed_at and deal.closed_at > week_start:
            status = DealStatus.OPEN
        if first is None and deal.paused_at and deal.paused_at > week_start:
            status = DealStatus.OPEN
        if status != DealStatus.OPEN:
            continue
        entered = deal.stage_changes.filter(at__lte=week_start).order_by("-at", "-pk").first()
        expected[deal.pk] = (
            entered.to_stage_id,
            (first or deal).value,
            (first or deal).expected_close_date,
        )
    got = {
        line.deal_id: (line.stage_id, line.value, line.expected_close_date)
        for line in run.lines.all()
    }
    assert got.keys() == expected.keys()
    rates = rates_on(this_week)
    for deal in Deal.objects.filter(pk__in=expected):
        stage_id, value, close = expected[deal.pk]
        assert got[deal.pk][0] == stage_id
        assert got[deal.pk][1] == round_cents(value * rates[deal.currency].rate)
        assert got[deal.pk][2] == close
    # ... which is not the pipeline as it stands: the week's closings and new leads.
    open_now = set(Deal.objects.filter(status=DealStatus.OPEN).values_list("pk", flat=True))
    assert open_now - got.keys() and got.keys() - open_now

    # What changed this week is still there, on the review and on the forecast.
    review = review_for_team(user=maria, team=north, clock=ReviewClock.current())
    assert review.run == run
    assert review.sections["changes"].count > 0
    _run, changes = changes_since_snapshot(
        user=maria, filters=ForecastFilters(kind="month"), today=timezone.localdate()
    )
    assert _run == run
    reasons = {reason for by_reason in changes.values() for reason in by_reason}
    assert {"new", "slipped", "value", "won", "lost"} <= reasons
    # The poll's next runs write nothing.
    assert tasks.forecast_snapshot() is None
    assert ForecastSnapshotRun.objects.filter(week=this_week).count() == 1


def test_same_seed_gives_the_same_snapshot_history():
    def history():
        return list(
            ForecastSnapshotLine.objects.order_by(
                "run__week", "deal__title", "deal__value"
            ).values_list("run__week", "deal__title", "stage__name", "expected_close_date", "value")
        )

    seed("--seed", "7")
    first = history()
    for model in (ForecastSnapshot, ForecastSnapshotLine, ForecastSnapshotRun, SalesTarget):
        model.objects.all().delete()
    Notification.objects.all().delete()
    Flag.objects.all().delete()
    Deal.objects.update(next_step=None)
    Activity.objects.all().delete()
    StageChange.objects.all().delete()
    Deal.objects.all().delete()

    seed("--seed", "7")

    assert history() == first
