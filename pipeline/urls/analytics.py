from django.urls import path

from crm.first_run import setup_required
from pipeline.views import analytics

# Until the user has a pipeline, each page shows the first run's next step (crm.first_run).
pipeline_page = setup_required("pipeline")

urlpatterns = [
    path("analytics/", pipeline_page(analytics.analytics_funnel), name="analytics-funnel"),
    path(
        "analytics/time-in-stage/",
        pipeline_page(analytics.analytics_time_in_stage),
        name="analytics-time-in-stage",
    ),
    path("analytics/reps/", pipeline_page(analytics.analytics_reps), name="analytics-reps"),
    path(
        "analytics/losses/",
        pipeline_page(analytics.analytics_losses),
        name="analytics-losses",
    ),
    path(
        "analytics/velocity/",
        pipeline_page(analytics.analytics_velocity),
        name="analytics-velocity",
    ),
    path("analytics/deals/", analytics.analytics_deals, name="analytics-deals"),
]
