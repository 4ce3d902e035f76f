"""The managers' clean-up list: deals past qualification lacking a qualification fact."""

from django.urls import path

from crm.first_run import setup_required
from pipeline.views import cleanup

# Until the user has a pipeline, this page shows the first run's next step (crm.first_run)
# instead of an empty page or a 404.
pipeline_page = setup_required("pipeline")

urlpatterns = [
    path("cleanup/", pipeline_page(cleanup.cleanup), name="cleanup"),
    path("cleanup/deals/<int:pk>/fact/", cleanup.cleanup_fact, name="cleanup-fact"),
    path("cleanup/deals/<int:pk>/pause/", cleanup.cleanup_pause, name="cleanup-pause"),
    path(
        "cleanup/deals/<int:pk>/move-back/",
        cleanup.cleanup_move_back,
        name="cleanup-move-back",
    ),
]
