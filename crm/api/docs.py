"""The browsable docs at /api/v1/docs: Swagger UI, vendored (static/vendor/, the version in
the file name; no CDN), started by static/js/api-docs.js, so the site's Content-Security-
Policy (scripts and styles from our own origin only) holds on this page too."""

from __future__ import annotations

from django.shortcuts import render
from ninja.openapi.docs import DocsBase

SWAGGER_UI_VERSION = "5.35.0"


class VendoredSwagger(DocsBase):
    def render_page(self, request, api, **kwargs):
        context = {
            "openapi_url": self.get_openapi_url(api, kwargs),
            "title": api.title,
            "version": SWAGGER_UI_VERSION,
        }
        return render(request, "api/docs.html", context)
