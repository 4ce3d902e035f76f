from django.urls import path

from crm import views, views_settings, views_tiers
from crm.first_run import setup_required

# Companies and contacts belong to a team: until the user has one, these pages say how to get
# one (crm.first_run).
team_page = setup_required("team")

urlpatterns = [
    path("companies/", team_page(views.company_list), name="company-list"),
    path("companies/new/", team_page(views.company_create), name="company-create"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("companies/<int:pk>/edit/", views.company_update, name="company-update"),
    path("companies/<int:pk>/notes/", views.company_note_create, name="company-note-create"),
    path("contacts/", team_page(views.contact_list), name="contact-list"),
    path("contacts/new/", team_page(views.contact_create), name="contact-create"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", views.contact_update, name="contact-update"),
    path("contacts/<int:pk>/notes/", views.contact_note_create, name="contact-note-create"),
    path(
        "settings/organisation/",
        views_settings.organisation_settings,
        name="settings-organisation",
    ),
    path(
        "settings/exchange-rates/",
        views_settings.exchange_rate_create,
        name="settings-exchange-rate-create",
    ),
    path("settings/tiers/", views_tiers.settings_tiers, name="settings-tiers"),
    path(
        "settings/tiers/recompute/",
        views_tiers.settings_tiers_recompute,
        name="settings-tiers-recompute",
    ),
]
