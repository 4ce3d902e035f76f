"""The weekly forecast: the page, its panels, exports, targets and stage calibration."""

from django.urls import path

from crm.first_run import setup_required
from pipeline.views import forecast

# Until the user has a pipeline, this page shows the first run's next step (crm.first_run)
# instead of an empty page or a 404.
pipeline_page = setup_required("pipeline")

urlpatterns = [
    path("forecast/", pipeline_page(forecast.forecast), name="forecast"),
    path("forecast/export.csv", forecast.forecast_export, name="forecast-export"),
    path(
        "forecast/export.xlsx",
        forecast.forecast_export,
        {"file_format": "xlsx"},
        name="forecast-export-xlsx",
    ),
    path("forecast/deals/", forecast.forecast_deals, name="forecast-deals"),
    path("forecast/targets/", forecast.forecast_target_set, name="forecast-target-set"),
    path("forecast/accuracy/", forecast.forecast_accuracy_panel, name="forecast-accuracy"),
    path("forecast/changes/", forecast.forecast_changes_panel, name="forecast-changes"),
    path(
        "forecast/calibration/",
        forecast.forecast_calibration_panel,
        name="forecast-calibration",
    ),
    path(
        "forecast/calibration/stages/<int:pk>/apply/",
        forecast.forecast_calibration_apply,
        name="forecast-calibration-apply",
    ),
]
