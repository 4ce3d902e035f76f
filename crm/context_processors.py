from __future__ import annotations

from django.conf import settings


def organisation(request) -> dict:
    return {
        "organisation_name": settings.ORGANISATION_NAME,
        "reporting_currency": settings.REPORTING_CURRENCY,
    }
