"""Activities and the user's own next steps."""

from django.urls import path

from crm.first_run import setup_required
from pipeline.views import activities

urlpatterns = [
    path("deals/<int:pk>/activities/new/", activities.activity_create, name="activity-create"),
    path("activities/<int:pk>/edit/", activities.activity_update, name="activity-update"),
    path("activities/<int:pk>/complete/", activities.activity_complete, name="activity-complete"),
    path("next-steps/", setup_required("team")(activities.my_next_steps), name="my-next-steps"),
]
