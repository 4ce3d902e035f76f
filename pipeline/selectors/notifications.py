"""Reads for in-app notifications: the bell's unread count and the notifications page.

Kept apart from the board's selectors (`pipeline/selectors/board.py`).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from pipeline.models import Deal, Notification


def _for_user(user: User) -> QuerySet[Notification]:
    """The user's own notifications about deals they can still see: a deal given to another
    team, or to someone else in an "own deals only" team, drops out of the list and the count
    (docs/product.md: every list and count follows the visibility rule)."""
    return Notification.objects.filter(
        user_id=user.pk, deal__in=Deal.objects.visible_to(user).values("pk")
    )


def notifications_for_user(*, user: User, limit: int = 50) -> list[Notification]:
    """The user's latest notifications, newest first, with what their sentences need (the
    deal, the flag, the acting person) in one query."""
    return list(
        _for_user(user)
        .select_related("deal", "flag", "actor")
        .only(
            "kind",
            "created_at",
            "read_at",
            "deal__id",
            "deal__title",
            "flag__id",
            "flag__kind",
            "actor__id",
            "actor__username",
            "actor__first_name",
            "actor__last_name",
        )
        .order_by("-created_at", "-pk")[:limit]
    )


def unread_count(*, user: User) -> int:
    """How many of the user's notifications are unread: one COUNT on the partial unread index."""
    if not user.is_authenticated:
        return 0
    return _for_user(user).filter(read_at__isnull=True).count()


def notification_get_for_user(*, user: User, pk: int) -> Notification:
    """One of the user's own notifications with its deal; 404 for a missing one and for anyone
    else's alike."""
    notification = _for_user(user).select_related("deal").filter(pk=pk).first()
    if notification is None:
        raise Http404
    return notification
