"""The REST API, `/api/v1/` (django-ninja; docs/decisions.md says why).

Layer is a package, subject is a module, as in the apps: `routers/<subject>.py` are the
endpoints (thin, like the views: a door from the selectors, one service call, the answer),
`schemas/<subject>.py` the bodies, query strings and answers (typed, bounded: the API's
forms, and the OpenAPI schema's source). Shared: `auth.py` (Bearer tokens, the per-token
throttle), `errors.py` (every refusal as JSON), `pagination.py` (cursors), `docs.py` (the
browsable docs) and `app.py`, which puts them together.
"""
