"""Error pages that also answer htmx requests with a short message instead of a whole page."""

from __future__ import annotations

import sys

from django.http import HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.html import escape
from django.utils.translation import gettext as _
from django_htmx.http import reswap, retarget

from crm.observability import current_request_id


def refusal(request, message: str, *, status: int):
    """A refused request: for htmx a toast put into #toasts, otherwise a page."""
    if getattr(request, "htmx", False):
        response = render(request, "partials/refusal.html", {"message": message}, status=status)
        return reswap(retarget(response, "#toasts"), "afterbegin")
    return render(request, "refusal.html", {"message": message}, status=status)


def form_errors_text(form, *, fallback: str = "") -> str:
    """A form's errors in one line (or `fallback`, or "Please check your input.")."""
    errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    return " ".join(errors) or fallback or _("Please check your input.")


def form_refusal(request, form, *, status: int = 400, fallback: str = ""):
    """A form that did not validate, answered as a refusal with its errors in one line."""
    return refusal(request, form_errors_text(form, fallback=fallback), status=status)


def handler403(request, exception=None):
    if getattr(request, "htmx", False):
        message = _("You can see this, but only its owner, a manager or an admin can change it.")
        return refusal(request, message, status=403)
    return render(request, "403.html", status=403)


def handler404(request, exception=None):
    if getattr(request, "htmx", False):
        message = _("That record does not exist, or it belongs to another team.")
        return refusal(request, message, status=404)
    return render(request, "404.html", status=404)


def handler400(request, exception=None):
    return refusal(request, _("That request was not understood."), status=400)


def database_unavailable(request):
    """The database could not be reached or dropped the connection: 503 and "try again in a
    moment", rendered without touching the database (no context processors), with
    Retry-After so proxies and scripts know to come back."""
    message = _(
        "The database did not answer just now, so nothing was saved. Try again in a moment."
    )
    if getattr(request, "htmx", False):
        body = loader.render_to_string("partials/refusal.html", {"message": message})
        response = reswap(retarget(HttpResponse(body, status=503), "#toasts"), "afterbegin")
    else:
        body = loader.render_to_string("503.html", {"request_id": current_request_id()})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = "5"
    return response


def handler500(request):
    """The 500 page with the request id for the user to quote. Rendered without the request
    (no context processors: they read the database, which may be what failed); if even the
    template fails, a plain page still answers. An error that only says the database is
    unreachable (raised before the view, by the session or authentication middleware) is
    answered like the view's: 503."""
    from crm.transactions import is_database_unavailable

    error = sys.exc_info()[1]
    if error is not None and is_database_unavailable(error):
        return database_unavailable(request)
    request_id = current_request_id()
    try:
        html = loader.render_to_string("500.html", {"request_id": request_id})
    except Exception:
        # The template's own texts, so the fallback speaks the user's language too.
        html = (
            f"<!doctype html><title>{escape(_('Something went wrong'))}</title>"
            f"<h1>{escape(_('Something went wrong on our side'))}</h1>"
            f"<p>{escape(_('If it keeps happening, quote this reference to your administrator:'))}"
            f" {escape(request_id)}</p>"
        )
    return HttpResponse(html, status=500)
