"""The one base of every business-rule refusal.

A service raises a `RuleError` subclass when a rule refuses a change; nothing has been
written. A view that shows the message in its own form catches it; any other reaches
`crm.middleware.RefusalMiddleware`, which answers with the refusal every page uses (a toast
for htmx, a page otherwise) and the error's status. Imports nothing of the apps, so every
layer may raise it.
"""

from __future__ import annotations


class RuleError(Exception):
    """A change a rule refuses. The message is shown to the user; `field` names the form field
    it belongs to, if any; `status` is the HTTP answer when no view handles it."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
