"""/api/v1/: the API's endpoints, its schema (openapi.json) and docs (docs)."""

from django.urls import path

from crm.api.app import api

urlpatterns = [path("api/v1/", api.urls)]
