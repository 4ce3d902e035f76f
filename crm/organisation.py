"""The organisation row, read once per process and kept for a short while.

Every page shows the organisation's name and money in its reporting currency, so the row is
cached per process instead of read per request. A change made in this process is seen at once
(`organisation_changed()`); other processes see it within `TTL_SECONDS`.
"""

from __future__ import annotations

import time
import zoneinfo

from django.conf import settings
from django.utils import timezone

from crm.models import Organisation

TTL_SECONDS = 30.0

_cached: Organisation | None = None
_cached_at = 0.0


def organisation_get() -> Organisation:
    """The organisation (created with the defaults if the row is missing)."""
    global _cached, _cached_at
    now = time.monotonic()
    if _cached is None or now - _cached_at > TTL_SECONDS:
        _cached, _ = Organisation.objects.get_or_create(pk=1, defaults=initial_values())
        _cached_at = now
    return _cached


def organisation_changed() -> None:
    """Forget the cached row; call after saving it (on commit)."""
    global _cached
    _cached = None


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
