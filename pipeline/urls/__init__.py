"""The pipeline app's URLs, one module per subject."""

from django.urls import include, path

urlpatterns = [
    path("", include("pipeline.urls.board")),
    path("", include("pipeline.urls.deals")),
    path("", include("pipeline.urls.activities")),
    path("", include("pipeline.urls.notifications")),
    path("", include("pipeline.urls.forecast")),
    path("", include("pipeline.urls.review")),
    path("", include("pipeline.urls.cleanup")),
    # Admin settings: pipelines, stages, lost reasons, product areas.
    path("settings/", include("pipeline.urls.settings")),
    path("settings/", include("pipeline.urls.lead_forms")),
    path("", include("pipeline.urls.lead_forms_public")),
    path("", include("pipeline.urls.analytics")),
    path("", include("pipeline.urls.lead_balance")),
]
