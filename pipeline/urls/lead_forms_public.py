"""The public addresses of website lead forms: the page and submissions, the snippet's script
and the start token for a site's own code. The key is random; no id appears."""

from django.urls import path

from pipeline.views import lead_forms_public

KEY = "<str:key>"

urlpatterns = [
    path(f"forms/{KEY}/", lead_forms_public.lead_form_public, name="lead-form-public"),
    path(f"forms/{KEY}/start.js", lead_forms_public.lead_form_start_js, name="lead-form-start"),
    path(f"forms/{KEY}/token/", lead_forms_public.lead_form_token, name="lead-form-token"),
]
