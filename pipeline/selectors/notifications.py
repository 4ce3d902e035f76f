"""Reads for in-app notifications: the bell's unread count and the notifications page.

Kept apart from the board's selectors (`pipeline/selectors/board.py`).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import User
from pipeline.models import Deal, Flag, Notification, NotificationKind
from pipeline.selectors.board import card_flag_annotations


def _for_user(user: User) -> QuerySet[Notification]:
    """The user's own notifications about deals they can still see: a deal given to another
    team, or to someone else in an "own deals only" team, drops out of the list and the count
    (docs/product.md: every list and count follows the visibility rule). A flag scan's
    summary is about no one deal: its page applies the rule to the deals it lists."""
    return Notification.objects.filter(
        Q(deal__isnull=True) | Q(deal__in=Deal.objects.visible_to(user).values("pk")),
        user_id=user.pk,
    )


def notifications_for_user(*, user: User, limit: int = 50) -> list[Notification]:
    """The user's latest notifications, newest first, with what their sentences need (the
    deal, the flag, the acting person) in one query."""
    return list(
        _for_user(user)
        .select_related("deal", "flag", "actor")
        .only(
            "kind",
            "details",
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


SUMMARY_DEALS_SHOWN = 100


def summary_get_for_user(*, user: User, pk: int) -> Notification:
    """One of the user's own flag-scan summaries; 404 for anyone else's, a missing one and
    any other kind alike."""
    notification = (
        _for_user(user)
        .filter(pk=pk, kind=NotificationKind.FLAGS_RAISED)
        .only("kind", "details", "created_at", "read_at", "user_id")
    ).first()
    if notification is None:
        raise Http404
    return notification


def summary_deals(*, user: User, notification: Notification, limit: int = SUMMARY_DEALS_SHOWN):
    """The deals a flag-scan summary is about: the recipient's deals, still visible to them,
    flagged by that scan (a flag raised at the summary's time), with since when each of their
    flags is open now (a flag resolved since shows as fixed). First `limit`, in board order,
    in one query; with the total from the summary itself."""
    raised_then = Flag.objects.filter(deal_id=OuterRef("pk"), raised_at=notification.created_at)
    return list(
        Deal.objects.visible_to(user)
        .filter(owner_id=user.pk)
        .filter(Exists(raised_then))
        .select_related("stage", "company")
        .annotate(**card_flag_annotations())
        .only(
            "id",
            "title",
            "status",
            "pipeline_id",
            "stage__name",
            "company__name",
            "value",
            "currency",
        )
        .order_by("pipeline_id", "stage__position", "position", "pk")[:limit]
    )
