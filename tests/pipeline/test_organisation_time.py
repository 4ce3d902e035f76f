"""The organisation's time zone and week start, followed by pages, tasks, forecasts and the
weekly snapshot."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.utils import timezone

from crm.middleware import OrganisationTimeZoneMiddleware
from crm.models import Organisation
from crm.organisation import organisation_changed
from pipeline import services, tasks
from pipeline.forecasting import period_label, period_start, periods, week_of
from pipeline.models import DealStatus, Flag, FlagKind, ForecastSnapshot, ForecastSnapshotRun
from pipeline.selectors.forecast import ForecastFilters, forecast_for_user
from tests.factories import DealFactory
from tests.test_celery import set_next_step

pytestmark = pytest.mark.django_db

UTC = zoneinfo.ZoneInfo("UTC")
SUNDAY = date(2026, 11, 22)


def organisation(**values) -> None:
    Organisation.objects.filter(pk=1).update(**values)
    organisation_changed()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- time zone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "today"),
    [("Europe/Copenhagen", date(2026, 11, 21)), ("America/New_York", date(2026, 11, 20))],
)
def test_requests_see_the_organisations_today(zone, today):
    """03:30 UTC on the 21st is the 21st in Copenhagen and still the 20th in New York."""
    organisation(time_zone=zone)
    seen = {}

    def view(request):
        seen["today"] = timezone.localdate(utc(2026, 11, 21, 3, 30))
        seen["zone"] = timezone.get_current_timezone_name()
        return None

    OrganisationTimeZoneMiddleware(view)(RequestFactory().get("/"))
    assert seen == {"today": today, "zone": zone}
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE  # deactivated after


def test_changing_the_time_zone_moves_the_overdue_boundary(alice, stages_a):
    """A next step due on the 20th is overdue at 03:30 UTC on the 21st in Copenhagen (it is
    the 21st there) and not in New York (still the 20th)."""
    deal = DealFactory(stage=stages_a[0], owner=alice)
    set_next_step(deal, date(2026, 11, 20))
    instant = utc(2026, 11, 21, 3, 30)
    scan = tasks.in_organisation_time(services.flags_scan)

    def overdue() -> bool:
        return Flag.objects.filter(
            deal=deal, kind=FlagKind.OVERDUE_NEXT_STEP, resolved_at__isnull=True
        ).exists()

    organisation(time_zone="Europe/Copenhagen")
    scan(now=instant)
    assert overdue()

    organisation(time_zone="America/New_York")
    scan(now=instant)
    assert not overdue()


def test_tasks_leave_the_process_zone_as_it_was():
    organisation(time_zone="Asia/Tokyo")
    before = timezone.get_current_timezone_name()
    assert tasks.in_organisation_time(timezone.get_current_timezone_name)() == "Asia/Tokyo"
    assert timezone.get_current_timezone_name() == before


def test_the_digest_hour_is_the_organisations(alice, bob):
    """23:00 UTC on the 20th is 08:00 on the 21st in Tokyo and 13:00 on the 20th in
    Honolulu: past the digest hour in both, for different days."""
    from unittest import mock

    instant = utc(2026, 11, 20, 23, 0).isoformat()
    with mock.patch.object(tasks.digest_send, "apply_async") as apply_async:
        organisation(time_zone="Asia/Tokyo")
        assert tasks.digests_send.run(instant) == 2
        assert {c.kwargs["args"][1] for c in apply_async.call_args_list} == {"2026-11-21"}
        apply_async.reset_mock()
        organisation(time_zone="Pacific/Honolulu")  # 13:00 on the 20th
        assert tasks.digests_send.run(instant) == 2
        assert {c.kwargs["args"][1] for c in apply_async.call_args_list} == {"2026-11-20"}


# --- week start -----------------------------------------------------------------------------


def test_week_periods_start_on_the_organisations_week_start():
    assert week_of(SUNDAY) == date(2026, 11, 16)  # Monday weeks
    organisation(week_start=6)
    assert week_of(SUNDAY) == SUNDAY
    assert week_of(date(2026, 11, 28)) == SUNDAY  # the Saturday after
    assert periods(date(2026, 11, 25), "week", 3) == [
        SUNDAY,
        date(2026, 11, 29),
        date(2026, 12, 6),
    ]
    # Named after the Monday-to-Saturday it mostly covers: ISO week 48.
    assert period_label(SUNDAY, "week") == "W48 2026"
    assert period_start(SUNDAY, "month") == date(2026, 11, 1)


@pytest.mark.parametrize("week_start", [0, 6], ids=["monday", "sunday"])
def test_the_weekly_forecast_puts_a_sunday_deal_in_the_organisations_week(
    admin, alice, stages_a, week_start
):
    organisation(week_start=week_start)
    sunday_deal = DealFactory(
        stage=stages_a[2], owner=alice, value=Decimal(1000), expected_close_date=SUNDAY
    )
    DealFactory(
        stage=stages_a[2],
        owner=alice,
        value=Decimal(400),
        status=DealStatus.WON,
        closed_at=utc(2026, 11, 22, 12, 0),  # Sunday afternoon in Copenhagen
    )
    forecast = forecast_for_user(
        user=admin,
        filters=ForecastFilters(kind="week", start=date(2026, 11, 10), count=4),
        today=date(2026, 11, 10),
    )
    expected_week = SUNDAY if week_start == 6 else date(2026, 11, 16)
    assert all(p.weekday() == week_start for p in forecast.periods)
    cell = forecast.totals[expected_week]
    assert cell.count == 1
    assert cell.weighted_exact == sunday_deal.value * Decimal("0.5")
    assert cell.won_exact == Decimal(400)
    others = [c for p, c in forecast.totals.items() if p != expected_week]
    assert all(c.count == 0 and c.won_exact == 0 for c in others)


def test_a_sunday_start_snapshot_belongs_to_the_sunday_week(alice, stages_a):
    organisation(week_start=6)
    DealFactory(
        stage=stages_a[0], owner=alice, expected_close_date=SUNDAY, created_at=utc(2026, 11, 1)
    )
    run = services.forecast_snapshot_take(now=utc(2026, 11, 22, 9, 0))
    assert run.week == SUNDAY
    total = ForecastSnapshot.objects.get(run=run, period_kind="week")
    assert total.period_start == SUNDAY


def test_the_snapshot_poll_takes_one_per_week_even_when_the_week_start_changes(alice, stages_a):
    DealFactory(stage=stages_a[0], owner=alice, expected_close_date=SUNDAY)
    tuesday = utc(2026, 11, 17, 9, 0)
    assert services.forecast_snapshot_take(now=tuesday).week == date(2026, 11, 16)
    # Later that week the admin switches to Sunday weeks: that week (from Sunday the 15th)
    # already has its snapshot, taken on its Monday.
    organisation(week_start=6)
    assert services.forecast_snapshot_take(now=tuesday + timedelta(days=2)) is None
    # The next Sunday starts a new week: the first poll takes it, later polls do nothing.
    first_poll = utc(2026, 11, 21, 23, 15)  # Sunday 00:15 in Copenhagen
    assert services.forecast_snapshot_take(now=first_poll).week == SUNDAY
    assert services.forecast_snapshot_take(now=first_poll + timedelta(hours=5)) is None
    assert ForecastSnapshotRun.objects.count() == 2


def test_the_snapshot_week_follows_the_organisations_time_zone(alice, stages_a):
    """Sunday 23:30 UTC is already Monday in Copenhagen but still Sunday in London."""
    DealFactory(stage=stages_a[0], owner=alice, expected_close_date=SUNDAY)
    instant = utc(2026, 11, 22, 23, 30)
    organisation(time_zone="Europe/London")
    assert services.forecast_snapshot_take(now=instant).week == date(2026, 11, 16)
    ForecastSnapshotRun.objects.all().delete()
    organisation(time_zone="Europe/Copenhagen")
    assert services.forecast_snapshot_take(now=instant).week == date(2026, 11, 23)
