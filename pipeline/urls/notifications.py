"""Notifications: the list, the bell, opening one, marking all read."""

from django.urls import path

from pipeline.views import notifications

urlpatterns = [
    path("notifications/", notifications.notification_list, name="notification-list"),
    path("notifications/bell/", notifications.notification_bell, name="notification-bell"),
    path(
        "notifications/<int:pk>/",
        notifications.notification_summary,
        name="notification-summary",
    ),
    path(
        "notifications/<int:pk>/open/",
        notifications.notification_open,
        name="notification-open",
    ),
    path(
        "notifications/read/",
        notifications.notifications_mark_all_read,
        name="notifications-mark-all-read",
    ),
]
