from django.urls import path

from crm.first_run import setup_required
from pipeline import views_analytics

# Until the user has a pipeline, each page shows the first run's next step (crm.first_run).
pipeline_page = setup_required("pipeline")

urlpatterns = [
    path("analytics/", pipeline_page(views_analytics.analytics_funnel), name="analytics-funnel"),
    path(
        "analytics/time-in-stage/",
        pipeline_page(views_analytics.analytics_time_in_stage),
        name="analytics-time-in-stage",
    ),
    path("analytics/reps/", pipeline_page(views_analytics.analytics_reps), name="analytics-reps"),
    path(
        "analytics/losses/",
        pipeline_page(views_analytics.analytics_losses),
        name="analytics-losses",
    ),
    path(
        "analytics/velocity/",
        pipeline_page(views_analytics.analytics_velocity),
        name="analytics-velocity",
    ),
    path("analytics/deals/", views_analytics.analytics_deals, name="analytics-deals"),
]
