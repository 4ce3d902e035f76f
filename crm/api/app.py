"""The API object: version 1, Bearer tokens, the per-token throttle, JSON refusals, the
OpenAPI schema at /api/v1/openapi.json and the docs at /api/v1/docs."""

from __future__ import annotations

from ninja import NinjaAPI

from crm.api.auth import TokenAuth, TokenRateThrottle
from crm.api.docs import VendoredSwagger
from crm.api.errors import install_error_handlers
from crm.api.routers import (
    activities,
    companies,
    contacts,
    deals,
    lost_reasons,
    pipelines,
    users,
)

DESCRIPTION = """
The CRM's data, with the same rules as its pages.

**Authentication.** Every request sends a personal API token, `Authorization: Bearer
crm_...`, made on the user's profile page (or with `manage.py api_token create USERNAME`). A
token acts with exactly its user's rights: another team's record answers 404, a visible
record the user may not change 403.

**Rate limit.** Each token may make `API_RATE_LIMIT` requests (default 120 a minute); over
it the answer is 429 with `Retry-After` (seconds). Requests with a wrong token are limited
per client address (`API_AUTH_FAILURE_LIMIT`, default 20 a minute).

**Lists** are paged by cursor: `limit` (1-100, default 50) and the `next_cursor` of the page
before (null on the last page); `order` takes the fields each list names (a leading `-`:
descending).

**Changes to a deal** carry the `version` it was loaded with; a stale one is 409 with the
`current_version`, and nothing changes. A move obeys the stage's exit criteria as on the
board (422 with `missing_criteria`).

**Refusals** are JSON: `detail` (for people), `code` (for programs) and, for bad input
(400), `errors` per field.
"""


class CrmApi(NinjaAPI):
    """The schema is built once per process (it costs a second or so, and /openapi.json
    needs no token: building it per request would be a cheap way to load the server)."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        cached = self.__dict__.setdefault("_schemas", {})
        if key not in cached:
            cached[key] = super().get_openapi_schema(
                path_prefix=path_prefix, path_params=path_params
            )
        return cached[key]


def build_api() -> NinjaAPI:
    api = CrmApi(
        title="CRM API",
        version="1",
        description=DESCRIPTION,
        urls_namespace="api-v1",
        auth=TokenAuth(),
        throttle=[TokenRateThrottle()],
        docs=VendoredSwagger(),
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    install_error_handlers(api)
    for module in (companies, contacts, deals, activities, pipelines, users, lost_reasons):
        api.add_router("", module.router)
    return api


api = build_api()
