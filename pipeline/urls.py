from django.urls import include, path

from crm.first_run import setup_required
from pipeline import views, views_cleanup, views_forecast, views_notifications, views_review

# Until the user has a pipeline, these pages show the first run's next step (crm.first_run)
# instead of an empty page or a 404. The home page says it itself (no_pipeline.html).
pipeline_page = setup_required("pipeline")

urlpatterns = [
    path("", views.home, name="home"),
    path("pipelines/<int:pk>/board/", views.board, name="board"),
    path("pipelines/<int:pk>/closed/", views.closed_deals, name="closed-deals"),
    path("pipelines/<int:pk>/deals/new/", views.deal_create, name="deal-create"),
    path("pipelines/<int:pk>/stages/<int:stage_pk>/cards/", views.column_more, name="column-more"),
    path(
        "pipelines/<int:pk>/stages/<int:stage_pk>/deals/new/",
        views.deal_quick_create,
        name="deal-quick-create",
    ),
    path("deals/<int:pk>/", views.deal_detail, name="deal-detail"),
    path("deals/<int:pk>/edit/", views.deal_update, name="deal-update"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal-move"),
    path("deals/<int:pk>/move-check/", views.deal_move_check, name="deal-move-check"),
    path("deals/<int:pk>/won/", views.deal_mark_won, name="deal-won"),
    path("deals/<int:pk>/lost/", views.deal_mark_lost, name="deal-lost"),
    path("deals/<int:pk>/reopen/", views.deal_reopen, name="deal-reopen"),
    path("deals/<int:pk>/delete/", views.deal_delete, name="deal-delete"),
    path("deals/<int:pk>/notes/", views.deal_note_create, name="deal-note-create"),
    path("deals/<int:pk>/pause/", views.deal_pause, name="deal-pause"),
    path("deals/<int:pk>/resume/", views.deal_resume, name="deal-resume"),
    path("deals/<int:pk>/activities/new/", views.activity_create, name="activity-create"),
    path("activities/<int:pk>/edit/", views.activity_update, name="activity-update"),
    path("activities/<int:pk>/complete/", views.activity_complete, name="activity-complete"),
    path("next-steps/", setup_required("team")(views.my_next_steps), name="my-next-steps"),
    path("notifications/", views_notifications.notification_list, name="notification-list"),
    path("notifications/bell/", views_notifications.notification_bell, name="notification-bell"),
    path(
        "notifications/<int:pk>/open/",
        views_notifications.notification_open,
        name="notification-open",
    ),
    path(
        "notifications/read/",
        views_notifications.notifications_mark_all_read,
        name="notifications-mark-all-read",
    ),
    path("forecast/", pipeline_page(views_forecast.forecast), name="forecast"),
    path("forecast/export.csv", views_forecast.forecast_export, name="forecast-export"),
    path(
        "forecast/export.xlsx",
        views_forecast.forecast_export,
        {"file_format": "xlsx"},
        name="forecast-export-xlsx",
    ),
    path("forecast/deals/", views_forecast.forecast_deals, name="forecast-deals"),
    path("forecast/targets/", views_forecast.forecast_target_set, name="forecast-target-set"),
    path("forecast/accuracy/", views_forecast.forecast_accuracy_panel, name="forecast-accuracy"),
    path("forecast/changes/", views_forecast.forecast_changes_panel, name="forecast-changes"),
    path(
        "forecast/calibration/",
        views_forecast.forecast_calibration_panel,
        name="forecast-calibration",
    ),
    path(
        "forecast/calibration/stages/<int:pk>/apply/",
        views_forecast.forecast_calibration_apply,
        name="forecast-calibration-apply",
    ),
]

# The manager's weekly review.
urlpatterns += [
    # A team's review: with no pipeline yet its sections are simply empty.
    path("review/", setup_required("team")(views_review.review), name="review"),
    path("review/deals/<int:pk>/", views_review.review_row, name="review-row"),
    path(
        "review/deals/<int:pk>/next-step/", views_review.review_next_step, name="review-next-step"
    ),
    path("review/deals/<int:pk>/owner/", views_review.review_owner, name="review-owner"),
    path(
        "review/deals/<int:pk>/close-date/",
        views_review.review_close_date,
        name="review-close-date",
    ),
    path("review/deals/<int:pk>/pause/", views_review.review_pause, name="review-pause"),
    path("review/deals/<int:pk>/lost/", views_review.review_lost, name="review-lost"),
    path(
        "review/deals/<int:pk>/move-back/", views_review.review_move_back, name="review-move-back"
    ),
    path("review/deals/<int:pk>/reviewed/", views_review.review_mark, name="review-mark"),
]

# The managers' clean-up list: deals past qualification lacking a qualification fact.
urlpatterns += [
    path("cleanup/", pipeline_page(views_cleanup.cleanup), name="cleanup"),
    path("cleanup/deals/<int:pk>/fact/", views_cleanup.cleanup_fact, name="cleanup-fact"),
    path("cleanup/deals/<int:pk>/pause/", views_cleanup.cleanup_pause, name="cleanup-pause"),
    path(
        "cleanup/deals/<int:pk>/move-back/",
        views_cleanup.cleanup_move_back,
        name="cleanup-move-back",
    ),
]

# Admin settings: pipelines, stages, lost reasons, product areas.
urlpatterns += [path("settings/", include("pipeline.urls_settings"))]

urlpatterns += [path("", include("pipeline.urls_analytics"))]
