"""The public door of a website lead form, `/forms/<key>/`: the hosted page (also shown in an
iframe), the target of the HTML snippet and of JSON from a site's own code.

What a request goes through, cheapest first, so abuse costs us little:
1. a body over LEAD_FORM_MAX_BODY_BYTES: 413, before anything is read;
2. the client address's rate (all forms): 429 with Retry-After, before any query;
3. the form by its key: 404 for an unknown key or a form turned off;
4. the form's own rate: 429;
5. an Origin that is neither ours nor one the admin listed: 403;
6. the body parsed: 400 when it is not a form or a JSON object of texts;
7. spam (honeypot, too fast, no start token): answered exactly like a success, only counted;
8. validation in the form's language: 400 with the messages;
9. the lead saved (`services.lead_submit`).

Answers name no record: no ids, nothing but the thank-you text or the messages. This is the
only view that is exempt from CSRF: visitors post from other sites and have no session here.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from accounts.security import client_address, security_event
from crm.web.ratelimit import rate_hits
from crm.web.refusals import refusal
from pipeline import selectors, services
from pipeline.forms.lead_forms import (
    EXPIRED,
    LeadSubmissionForm,
    lead_spam_check,
)
from pipeline.models import HONEYPOT_FIELD, TOKEN_FIELD, LeadForm

PAGE = "lead_forms/public.html"
JSON_TYPE = "application/json"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FORM_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what pipeline.models.lead_form_key makes


class BadBody(Exception):
    """The body is neither an HTML form nor a JSON object of texts and numbers."""


# --- CORS, origins and the page's own security policy ---------------------------------------


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def _origin_allowed(request, lead_form: LeadForm) -> bool:
    """No Origin (a server posting, an old browser), ours, or one the admin listed."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    own = {_origin(settings.SITE_URL), _origin(request.build_absolute_uri("/"))}
    return origin.lower() in own or origin in lead_form.origins


def _with_cors(response: HttpResponse, request, lead_form: LeadForm | None) -> HttpResponse:
    origin = request.headers.get("Origin")
    if lead_form is not None and origin and origin in lead_form.origins:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "Retry-After"
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


def _page_policy(lead_form: LeadForm) -> str:
    """The site's policy, with two directives opened for this page only: frame-ancestors to
    the listed websites (the iframe variant), form-action to the redirect's origin."""
    policy = settings.CONTENT_SECURITY_POLICY
    origins = lead_form.origins
    ancestors = " ".join(["'self'", *origins]) if origins else "'none'"
    actions = " ".join(["'self'", _origin(lead_form.redirect_url)]).strip()
    policy = re.sub(r"frame-ancestors [^;]*", f"frame-ancestors {ancestors}", policy)
    return re.sub(r"form-action [^;]*", f"form-action {actions}", policy)


# --- answers --------------------------------------------------------------------------------


def _wants_json(request) -> bool:
    return request.content_type == JSON_TYPE


def _thanks(lead_form: LeadForm, *, page: bool = False) -> str:
    """The admin's thank-you text, or ours (the page has "Thank you!" as its heading)."""
    if lead_form.thank_you_text:
        return lead_form.thank_you_text
    return _("We will be in touch soon.") if page else _("Thank you! We will be in touch soon.")


def _render_page(request, lead_form: LeadForm, *, form=None, sent=False, notice="", status=200):
    embed = request.GET.get("embed") == "1"
    action = reverse("lead-form-public", args=[lead_form.key]) + ("?embed=1" if embed else "")
    context = {
        "lead_form": lead_form,
        "form": form or LeadSubmissionForm(None, lead_form=lead_form),
        "token": services.fill_token(lead_form=lead_form),
        "honeypot": HONEYPOT_FIELD,
        "token_field": TOKEN_FIELD,
        "action": action,
        "embed": embed,
        "sent": sent,
        "thanks": _thanks(lead_form, page=True),
        "notice": notice,
        "button": lead_form.submit_label or _("Send"),
    }
    response = render(request, PAGE, context, status=status)
    response["Content-Security-Policy"] = _page_policy(lead_form)
    response["Cache-Control"] = "no-store"
    if lead_form.origins:
        response.xframe_options_exempt = True  # the CSP's frame-ancestors decides instead
    return response


def _refused(request, lead_form, *, status: int, message: str, retry_after: int | None = None):
    """A refusal before validation (413, 429, 403, 400 for a body we cannot read)."""
    if _wants_json(request):
        response = JsonResponse({"ok": False, "error": message}, status=status)
    elif lead_form is None:
        response = refusal(request, message, status=status)
    else:
        with translation.override(lead_form.language):
            response = _render_page(request, lead_form, notice=message, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return _with_cors(response, request, lead_form)


def _success(request, lead_form: LeadForm) -> HttpResponse:
    """The same answer for a saved lead and for spam."""
    if _wants_json(request):
        body = {"ok": True, "message": _thanks(lead_form), "redirect": lead_form.redirect_url}
        return _with_cors(JsonResponse(body), request, lead_form)
    if lead_form.redirect_url:
        return HttpResponseRedirect(lead_form.redirect_url, status=303)
    return _render_page(request, lead_form, sent=True)


def _invalid(request, lead_form: LeadForm, form: LeadSubmissionForm, notice: str = ""):
    if _wants_json(request):
        errors = {
            key: [e["message"] for e in items] for key, items in form.errors.get_json_data().items()
        }
        body = {"ok": False, "errors": errors, "error": notice or _("Please check the form.")}
        return _with_cors(JsonResponse(body, status=400), request, lead_form)
    return _render_page(request, lead_form, form=form, notice=notice, status=400)


# --- reading the body -----------------------------------------------------------------------


def _posted(request) -> dict[str, str]:
    """The posted fields as texts: an HTML form, or a JSON object of texts and numbers."""
    if request.content_type == JSON_TYPE:
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadBody from None
        if not isinstance(payload, dict):
            raise BadBody
        data = {}
        for key, value in payload.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise BadBody
            data[str(key)] = str(value)
        return data
    if request.content_type in FORM_TYPES:
        try:
            return {key: request.POST.get(key, "") for key in request.POST}
        except MultiPartParserError:
            raise BadBody from None
    raise BadBody


# --- the views ------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST", "OPTIONS"])
def lead_form_public(request, key: str):
    """The hosted form (GET), a submission (POST), or a CORS preflight (OPTIONS)."""
    if request.method == "POST":
        return _submit(request, key)
    lead_form = selectors.lead_form_get_public(key=key)
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        if request.headers.get("Origin") in lead_form.origins:
            response["Access-Control-Allow-Methods"] = "POST"
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = "600"
        return _with_cors(response, request, lead_form)
    with translation.override(lead_form.language):
        return _render_page(request, lead_form)


def _submit(request, key: str):
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.LEAD_FORM_MAX_BODY_BYTES:
        message = _("That is more than this form takes. Please shorten your message.")
        return _refused(request, None, status=413, message=message)
    address = client_address(request) or "unknown"
    too_many = _("Too many enquiries at once. Please try again later.")
    # Both counters in one round trip, in the order a request meets them: a refused address
    # is not counted against the form. The form's counter is keyed by its public key (the
    # URL's, which never changes), so it is counted before the form is looked up; an unknown
    # key still answers 404 below, whatever its counter says (keys no form can have share
    # one counter, so they make no cache keys of a visitor's choosing).
    form_key = key if FORM_KEY.fullmatch(key) else "-"
    address_check, *form_check = rate_hits(
        [
            (f"lead-address:{address}", settings.LEAD_FORM_ADDRESS_RATE),
            (f"lead-form:{form_key}", settings.LEAD_FORM_RATE),
        ]
    )
    if not address_check.allowed:
        security_event("lead_form_throttled", request=request, scope="address")
        return _refused(
            request, None, status=429, message=too_many, retry_after=address_check.retry_after
        )
    lead_form = selectors.lead_form_get_public(key=key)
    if not form_check[0].allowed:
        security_event("lead_form_throttled", request=request, scope="form")
        return _refused(
            request, lead_form, status=429, message=too_many, retry_after=form_check[0].retry_after
        )
    with translation.override(lead_form.language):
        if not _origin_allowed(request, lead_form):
            security_event("lead_form_origin_refused", request=request)
            message = _("This form does not take enquiries from that website.")
            return _refused(request, lead_form, status=403, message=message)
        try:
            data = _posted(request)
        except BadBody:
            message = _("Send the form as an HTML form or as a JSON object of texts.")
            return _refused(request, lead_form, status=400, message=message)
        return _accept(request, lead_form, data)


def _accept(request, lead_form: LeadForm, data: dict[str, str]):
    form = LeadSubmissionForm(data, lead_form=lead_form)
    verdict = lead_spam_check(lead_form=lead_form, data=data)
    if verdict == EXPIRED:
        form.is_valid()
        notice = _("This page was open for a long time. Please send the form again.")
        return _invalid(request, lead_form, form, notice=notice)
    if verdict is not None:
        services.lead_spam_count(lead_form=lead_form)
        security_event("lead_form_spam", request=request, reason=verdict)
        return _success(request, lead_form)
    if not form.is_valid():
        return _invalid(request, lead_form, form)
    services.lead_submit(lead_form=lead_form, lead=form.lead())
    return _success(request, lead_form)


@require_GET
def lead_form_start_js(request, key: str):
    """The snippet's script: puts a fresh start token into the pasted form, so the minimum
    fill time counts from when the visitor's page loaded. Never cached."""
    lead_form = selectors.lead_form_get_public(key=key)
    token = json.dumps(services.fill_token(lead_form=lead_form))
    selector = json.dumps(f'form[data-lead-form="{lead_form.key}"] input[name="{TOKEN_FIELD}"]')
    script = (
        "(function () {\n"
        f"  var fields = document.querySelectorAll({selector});\n"
        f"  for (var i = 0; i < fields.length; i++) {{ fields[i].value = {token}; }}\n"
        "})();\n"
    )
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def lead_form_token(request, key: str):
    """A start token for a site's own code (JSON, CORS for the listed websites): fetch it when
    the form is shown and send it back as `_ts`."""
    lead_form = selectors.lead_form_get_public(key=key)
    body = {TOKEN_FIELD: services.fill_token(lead_form=lead_form)}
    return _with_cors(JsonResponse(body), request, lead_form)
