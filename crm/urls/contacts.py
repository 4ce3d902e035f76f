"""Contacts."""

from django.urls import path, re_path

from crm.first_run import setup_required
from crm.views import contacts

# Contacts belong to a team: until the user has one, these pages say how to get one
# (crm.first_run).
team_page = setup_required("team")

urlpatterns = [
    path("contacts/", team_page(contacts.contact_list), name="contact-list"),
    path("contacts/new/", team_page(contacts.contact_create), name="contact-create"),
    re_path(
        r"^contacts/export\.(?P<file_format>csv|xlsx)$",
        contacts.contact_export,
        name="contact-export",
    ),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_update, name="contact-update"),
    path("contacts/<int:pk>/notes/", contacts.contact_note_create, name="contact-note-create"),
]
