"""Template context for every page: the bell's unread notification count."""

from __future__ import annotations

from functools import cache


def notifications(request) -> dict:
    """`unread_notifications`: a callable the template engine calls when a template reads it
    (the bell in the top bar, shown to signed-in users), so other pages and anonymous visitors
    cost no query. Cached, so reading it several times in one page is still one COUNT."""

    @cache
    def unread_notifications() -> int:
        from pipeline.selectors_notifications import unread_count

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return unread_count(user=user)

    return {"unread_notifications": unread_notifications}
