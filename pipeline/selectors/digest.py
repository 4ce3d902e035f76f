"""The daily digest: what a user's e-mail names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import F, Prefetch

from accounts.models import User
from pipeline.models import (
    Activity,
    Deal,
    DealStatus,
    Flag,
)


@dataclass
class Digest:
    flagged: list[Deal]
    steps: list[Activity]

    @property
    def is_empty(self) -> bool:
        return not self.flagged and not self.steps


def digest_for_user(*, user: User, day: date) -> Digest:
    """What the daily e-mail tells a user: their open deals that need attention (with their
    open flags) and the next steps they are responsible for that are due on `day`."""
    flagged = list(
        Deal.objects.visible_to(user)
        .filter(owner=user, status=DealStatus.OPEN)
        .needing_attention()
        .select_related("company", "stage")
        .prefetch_related(Prefetch("flags", queryset=Flag.objects.filter(resolved_at__isnull=True)))
        .order_by("pipeline_id", "stage__position", "position")
    )
    steps = list(
        Activity.objects.filter(
            assignee=user,
            done_at__isnull=True,
            due_date=day,
            deal__in=Deal.objects.visible_to(user).filter(
                status__in=[DealStatus.OPEN, DealStatus.PAUSED]
            ),
        )
        .select_related("deal", "deal__company")
        .order_by(F("due_time").asc(nulls_first=True), "pk")
    )
    return Digest(flagged=flagged, steps=steps)
