"""The notifications page and its two actions.

Opening a notification is a POST (a small form whose button looks like a link): marking read
is a change, so it is CSRF-protected and never triggered by a link preview, a prefetching
browser or a crawler following a GET. It then redirects to the deal.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from pipeline import services
from pipeline.selectors.notifications import (
    SUMMARY_DEALS_SHOWN,
    notification_get_for_user,
    notifications_for_user,
    summary_deals,
    summary_get_for_user,
    unread_count,
)

PAGE_SIZE = 50


@login_required
@require_GET
def notification_list(request):
    notifications = notifications_for_user(user=request.user, limit=PAGE_SIZE)
    return render(
        request,
        "pipeline/notification_list.html",
        {
            "notifications": notifications,
            "page_size": PAGE_SIZE,
            # Counted as the bell counts (all of them, not only the latest shown).
            "unread_notifications": unread_count(user=request.user),
        },
    )


@login_required
@require_GET
def notification_bell(request):
    """The bell with its unread count, fetched by htmx after the page loads and every minute."""
    return render(
        request,
        "pipeline/bell.html",
        {"unread": unread_count(user=request.user), "active": False},
    )


@login_required
@require_POST
def notification_open(request, pk: int):
    notification = notification_get_for_user(user=request.user, pk=pk)
    services.notification_mark_read(user=request.user, notification_id=notification.pk)
    if notification.deal_id is None:  # a flag scan's summary: its page lists the deals
        return redirect(reverse("notification-summary", args=[notification.pk]))
    return redirect(notification.deal.get_absolute_url())


@login_required
@require_GET
def notification_summary(request, pk: int):
    """A flag scan's summary: the recipient's deals it flagged (the first hundred), each with
    its flags as they are now, and a link to the board filtered to deals needing attention."""
    notification = summary_get_for_user(user=request.user, pk=pk)
    deals = summary_deals(user=request.user, notification=notification)
    return render(
        request,
        "pipeline/notification_summary.html",
        {"notification": notification, "deals": deals, "shown_max": SUMMARY_DEALS_SHOWN},
    )


@login_required
@require_POST
def notifications_mark_all_read(request):
    services.notifications_mark_all_read(user=request.user)
    return redirect("notification-list")
