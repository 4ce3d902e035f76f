"""Every refusal of the API as JSON, in one shape: `{"detail": ..., "code": ...}`, plus
`errors` (field -> messages) for bad input, `current_version` for a stale version and
`missing_criteria` for a move whose required exit criteria are not met.

The status codes are the product's (docs/product.md, access rules): 400 bad input, 401 no
or bad token, 403 a visible record the user may not change, 404 missing or another team's,
409 a stale version (or a transaction that lost a race twice), 422 a move refused by exit
criteria (as on the board), 413 a body over API_MAX_BODY_BYTES, 429 throttled (with
Retry-After), 503 the database away.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from crm.observability import current_request_id
from crm.rules import RuleError
from crm.transactions import TryAgain, is_database_unavailable, is_transient
from pipeline.services import DealConflict, ExitCriteriaUnmet

logger = logging.getLogger("django.request")


class BadInput(Exception):
    """Input that passed the schema but not a rule of the API's own (an id in the body that
    names nothing the user may use, a bad cursor): 400 with field errors."""

    def __init__(self, errors: dict[str, list[str]] | str, message: str | None = None):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = {field: [str(m) for m in messages] for field, messages in errors.items()}
        self.message = message
        super().__init__(self.errors)

    @classmethod
    def field(cls, name: str, message) -> BadInput:
        return cls({name: [str(message)]})


def error_body(detail, code: str, **extra) -> dict:
    return {"detail": str(detail), "code": code, **extra}


def _answer(api: NinjaAPI, request: HttpRequest, status: int, detail, code: str, **extra):
    return api.create_response(request, error_body(detail, code, **extra), status=status)


def _field_name(loc) -> str:
    """pydantic's location ("body", "payload", "title") as the field's name ("title");
    nested fields joined by dots ("next_step.due_date")."""
    parts = [str(part) for part in loc]
    while parts and parts[0] in ("body", "query", "path", "payload", "filters"):
        parts.pop(0)
    return ".".join(parts) or "__all__"


def _message(error: dict) -> str:
    message = str(error.get("msg", ""))
    # pydantic prefixes the messages our validators raise; the message is already a sentence.
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def validation_errors(errors: list[dict]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        fields.setdefault(_field_name(error.get("loc", ())), []).append(_message(error))
    return fields


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every exception an endpoint lets through as JSON, never as an HTML page."""

    def bad_input(request, exc: BadInput):
        detail = exc.message or _("Please check your input.")
        return _answer(api, request, 400, detail, "invalid", errors=exc.errors)

    def schema_error(request, exc: ValidationError):
        errors = validation_errors(exc.errors)
        return _answer(api, request, 400, _("Please check your input."), "invalid", errors=errors)

    def django_validation_error(request, exc: DjangoValidationError):
        if hasattr(exc, "error_dict"):
            errors = {field: [str(m) for m in e.messages] for field, e in exc.error_dict.items()}
        else:
            errors = {"__all__": [str(m) for m in exc.messages]}
        return _answer(api, request, 400, _("Please check your input."), "invalid", errors=errors)

    def not_found(request, exc):
        detail = _("That record does not exist, or it belongs to another team.")
        return _answer(api, request, 404, detail, "not_found")

    def forbidden(request, exc):
        message = str(exc) if exc.args else ""
        detail = message or _(
            "You can see this, but only its owner, a manager or an admin can change it."
        )
        return _answer(api, request, 403, detail, "forbidden")

    def conflict(request, exc: DealConflict):
        detail = _("Someone else changed this deal since you loaded it. Load it again.")
        return _answer(api, request, 409, detail, "conflict", current_version=exc.current.version)

    def criteria_unmet(request, exc: ExitCriteriaUnmet):
        missing = [
            {"id": c.pk, "stage_id": c.stage_id, "text": c.text, "is_required": c.is_required}
            for c in exc.missing
        ]
        return _answer(
            api, request, 422, exc.message, "exit_criteria_unmet", missing_criteria=missing
        )

    def rule_error(request, exc: RuleError):
        code = "try_again" if isinstance(exc, TryAgain) else "rule"
        extra = {"errors": {exc.field: [exc.message]}} if exc.field else {}
        return _answer(api, request, exc.status, exc.message, code, **extra)

    def unauthorized(request, exc: AuthenticationError):
        detail = _("Send a valid API token: Authorization: Bearer <token>.")
        response = _answer(api, request, 401, detail, "unauthorized")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    def throttled(request, exc: Throttled):
        detail = _("Too many requests. Wait as long as Retry-After says, then try again.")
        response = _answer(api, request, 429, detail, "throttled")
        response["Retry-After"] = str(max(1, int(exc.wait or 1)))
        return response

    def http_error(request, exc: HttpError):
        code = {400: "invalid", 413: "too_large"}.get(exc.status_code, "error")
        return _answer(api, request, exc.status_code, exc.message, code)

    def too_large(request, exc):
        detail = _("The request body is too large.")
        return _answer(api, request, 413, detail, "too_large")

    def server_error(request, exc: Exception) -> HttpResponse:
        if is_transient(exc):
            return _answer(api, request, 409, TryAgain().message, "try_again")
        if is_database_unavailable(exc):
            logger.warning("database unavailable during %s %s", request.method, request.path)
            response = _answer(
                api,
                request,
                503,
                _("The database did not answer just now, so nothing was saved. Try again."),
                "unavailable",
            )
            response["Retry-After"] = "5"
            return response
        logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exc,
            extra={"status_code": 500, "request": request},
        )
        detail = _("Something went wrong on our side. Quote %(id)s if you report it.") % {
            "id": current_request_id() or "-"
        }
        return _answer(api, request, 500, detail, "server_error")

    api.add_exception_handler(BadInput, bad_input)
    api.add_exception_handler(ValidationError, schema_error)
    api.add_exception_handler(DjangoValidationError, django_validation_error)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(PermissionDenied, forbidden)
    api.add_exception_handler(DealConflict, conflict)
    api.add_exception_handler(ExitCriteriaUnmet, criteria_unmet)
    api.add_exception_handler(RuleError, rule_error)
    api.add_exception_handler(AuthenticationError, unauthorized)
    api.add_exception_handler(Throttled, throttled)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(RequestDataTooBig, too_large)
    api.add_exception_handler(Exception, server_error)
