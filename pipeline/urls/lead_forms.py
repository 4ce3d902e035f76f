"""Settings pages of website lead forms (admins only), under /settings/."""

from django.urls import path

from pipeline.views import lead_forms

urlpatterns = [
    path("lead-forms/", lead_forms.lead_form_list, name="settings-lead-forms"),
    path("lead-forms/<int:pk>/", lead_forms.lead_form_detail, name="settings-lead-form"),
    path(
        "lead-forms/<int:pk>/active/",
        lead_forms.lead_form_set_active,
        name="settings-lead-form-active",
    ),
]
