"""Imports: upload, mapping, preview, start, progress and result, history, undo."""

from django.urls import path

from crm.views import imports

urlpatterns = [
    path("imports/", imports.import_list, name="import-list"),
    path("imports/new/", imports.import_start, name="import-start"),
    path("imports/<int:pk>/", imports.import_detail, name="import-detail"),
    path("imports/<int:pk>/map/", imports.import_map, name="import-map"),
    path("imports/<int:pk>/preview/", imports.import_preview, name="import-preview"),
    path("imports/<int:pk>/run/", imports.import_run, name="import-run"),
    path("imports/<int:pk>/undo/", imports.import_undo, name="import-undo"),
]
