"""ABC tiers: who may set them, their history, the preview of new thresholds."""

from __future__ import annotations

from django.db.models import (
    Count,
    DecimalField,
    Q,
    Value,
)
from django.db.models.functions import Coalesce

from accounts.access import access_for
from accounts.models import User
from crm.models import Company, TierChange


def can_set_tier(*, user: User, team_id: int) -> bool:
    """Whether the user may set a company's tier by hand (or release it): managers of the
    company's team and admins."""
    return access_for(user).manages_team(team_id)


def can_set_tiers_somewhere(*, user: User) -> bool:
    """Whether the company form offers the tier: the user manages a team or is an admin."""
    access = access_for(user)
    return access.is_admin or bool(access.managed_team_ids)


def tier_changes_for_company(*, company: Company, limit: int = 20) -> list[TierChange]:
    """The company's latest tier changes, newest first, with who made them."""
    return list(company.tier_changes.select_related("changed_by").order_by("-at", "-pk")[:limit])


def tier_changes_latest(*, limit: int = 20) -> list[TierChange]:
    """The latest tier changes of all companies (the settings page; admins only)."""
    return list(
        TierChange.objects.select_related("company", "changed_by").order_by("-at", "-pk")[:limit]
    )


def tier_preview(*, a_threshold, b_threshold) -> dict[str, int]:
    """How many companies would be A, B and C at these thresholds, from the expected values
    of the last recompute (a company never computed counts as 0); a tier set by hand is
    kept. One aggregate query over all companies (the settings page; admins only)."""
    value = Coalesce("expected_value", Value(0), output_field=DecimalField())
    free = Q(tier_locked=False)
    counts = Company.objects.annotate(ev=value).aggregate(
        A=Count("pk", filter=free & Q(ev__gte=a_threshold) | Q(tier_locked=True, tier="A")),
        B=Count(
            "pk",
            filter=free & Q(ev__gte=b_threshold, ev__lt=a_threshold)
            | Q(tier_locked=True, tier="B"),
        ),
        C=Count("pk", filter=free & Q(ev__lt=b_threshold) | Q(tier_locked=True, tier="C")),
        locked=Count("pk", filter=Q(tier_locked=True)),
    )
    return counts
