from django.urls import path

from pipeline import views_analytics

urlpatterns = [
    path("analytics/", views_analytics.analytics_funnel, name="analytics-funnel"),
    path(
        "analytics/time-in-stage/",
        views_analytics.analytics_time_in_stage,
        name="analytics-time-in-stage",
    ),
    path("analytics/reps/", views_analytics.analytics_reps, name="analytics-reps"),
    path("analytics/losses/", views_analytics.analytics_losses, name="analytics-losses"),
    path("analytics/velocity/", views_analytics.analytics_velocity, name="analytics-velocity"),
    path("analytics/deals/", views_analytics.analytics_deals, name="analytics-deals"),
]
