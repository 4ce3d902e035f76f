"""Companies."""

from django.urls import path, re_path

from crm.first_run import setup_required
from crm.views import companies

# Companies belong to a team: until the user has one, these pages say how to get one
# (crm.first_run).
team_page = setup_required("team")

urlpatterns = [
    path("companies/", team_page(companies.company_list), name="company-list"),
    path("companies/new/", team_page(companies.company_create), name="company-create"),
    re_path(
        r"^companies/export\.(?P<file_format>csv|xlsx)$",
        companies.company_export,
        name="company-export",
    ),
    path("companies/<int:pk>/", companies.company_detail, name="company-detail"),
    path("companies/<int:pk>/edit/", companies.company_update, name="company-update"),
    path("companies/<int:pk>/notes/", companies.company_note_create, name="company-note-create"),
]
