"""The first-run set-up; every URL answers 404 once it is done (crm.views.setup)."""

from django.urls import path

from crm.views import setup

urlpatterns = [
    path("setup/", setup.setup_start, name="setup"),
    path("setup/organisation/", setup.setup_organisation, name="setup-organisation"),
    path("setup/admin/", setup.setup_admin, name="setup-admin"),
    path("setup/team/", setup.setup_team, name="setup-team"),
    path("setup/invite/", setup.setup_invite, name="setup-invite"),
    path("setup/import/", setup.setup_import, name="setup-import"),
    path("setup/finish/", setup.setup_finish, name="setup-finish"),
]
