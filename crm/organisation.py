"""The organisation row, read once per process and kept for a short while.

Every page shows the organisation's name and money in its reporting currency, so the row is
cached per process instead of read per request. A change made in this process is seen at once
(`organisation_changed()`); other processes see it within `TTL_SECONDS`.
"""

from __future__ import annotations

import time

from django.conf import settings

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
