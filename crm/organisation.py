"""The organisation row, which every page reads, kept in each process's memory while it is
current.

The row is read once per process and kept under the shared `organisation` version
(`crm.shared`): a change made through any process or node gives the version a new token after
commit (`organisation_changed()`), and every process reads the row again at its next request.
Steady state costs no query, only the request's one look at the shared versions.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils import timezone

from crm.models import Organisation
from crm.shared import Memo, changed


def _load(_key) -> Organisation:
    organisation, _ = Organisation.objects.get_or_create(pk=1, defaults=initial_values())
    return organisation


_memo = Memo("organisation", _load)


def organisation_get() -> Organisation:
    """The organisation (created with the defaults if the row is missing)."""
    return _memo.get()


def organisation_changed() -> None:
    """The row was written: call in the writing transaction (or after it). This process reads
    it again at once, every other process at its next request after commit."""
    changed("organisation")


def initial_values() -> dict:
    """A new install's organisation, from its environment (see README)."""
    return {
        "name": settings.ORGANISATION_NAME,
        "reporting_currency": settings.REPORTING_CURRENCY,
        "time_zone": settings.TIME_ZONE,
    }


def reporting_currency() -> str:
    """The currency every total, forecast and snapshot is shown in."""
    return organisation_get().reporting_currency


def organisation_zone() -> zoneinfo.ZoneInfo:
    """The organisation's time zone: its "today", its week and its digest hour."""
    try:
        return zoneinfo.ZoneInfo(organisation_get().time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a row edited by hand: stay up
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def week_start() -> int:
    """The weekday weeks start on (0 Monday ... 6 Sunday)."""
    return organisation_get().week_start


def activate_organisation_time_zone() -> None:
    """Make `timezone.localdate()` the organisation's today for this request or task."""
    timezone.activate(organisation_zone())
