"""The project's URLs: each app's, one module per subject, and the error handlers."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("crm.urls.setup")),
    path("settings/", include("accounts.urls.settings")),
    path("", include("crm.urls.companies")),
    path("", include("crm.urls.contacts")),
    path("", include("crm.urls.imports")),
    path("", include("crm.urls.pickers")),
    path("settings/", include("crm.urls.organisation")),
    path("", include("pipeline.urls")),
    path("settings/", include("webhooks.urls")),
    path("", include("crm.api.urls")),
]

handler400 = "crm.web.refusals.handler400"
handler403 = "crm.web.refusals.handler403"
handler404 = "crm.web.refusals.handler404"
handler500 = "crm.web.refusals.handler500"
