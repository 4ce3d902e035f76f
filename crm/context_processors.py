from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from accounts.access import access_for
from accounts.selectors import setup_for_user
from crm.organisation import organisation_get


def organisation(request) -> dict:
    org = organisation_get()
    user = getattr(request, "user", None)
    return {
        "organisation_name": org.name,
        "reporting_currency": org.reporting_currency,
        # Lazy: pages that never ask pay nothing; access_for is cached per request anyway.
        "user_is_admin": SimpleLazyObject(
            lambda: bool(user and user.is_authenticated and access_for(user).is_admin)
        ),
        # Managers and admins see the lead balance.
        "user_is_manager": SimpleLazyObject(
            lambda: bool(
                user
                and user.is_authenticated
                and (access_for(user).is_admin or access_for(user).managed_team_ids)
            )
        ),
        # How far set-up has come (the first-run card); read only by the pages that ask.
        "setup": SimpleLazyObject(lambda: setup_for_user(user=user)),
    }
