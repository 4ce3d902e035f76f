"""Settings pages for webhooks (admins only): the list with a new endpoint, each endpoint's
page (its settings, status and delivery log, send a test event, send again, switch on and
off, a new secret, delete). The secret is shown on the answer that made it, never stored in a
URL or the session."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.web.forms import ActiveForm
from crm.web.refusals import form_errors_text, refusal
from webhooks import selectors
from webhooks.addresses import AddressRefused
from webhooks.forms import EndpointForm, LogFilterForm
from webhooks.services import endpoints as services
from webhooks.signing import SIGNATURE_HEADER


def _no_store(response, secret: str):
    if secret:
        # The secret is on this page only: never kept by a browser cache or a proxy.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request):
    endpoints = selectors.endpoints_for_settings(user=request.user)
    form = EndpointForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                endpoint, secret = services.endpoint_create(
                    acting_user=request.user, **form.values()
                )
            except AddressRefused as error:
                form.add_error("url", str(error))
            else:
                messages.success(request, _("Endpoint added. Copy its signing secret now."))
                return _detail_page(request, endpoint, secret=secret)
        status = 400
    context = {"endpoints": endpoints, "form": form}
    return render(request, "settings/webhook_list.html", context, status=status)


def _detail_page(request, endpoint, *, form=None, secret: str = "", status: int = 200):
    log_filter = LogFilterForm(request.GET or None)
    shown = log_filter.cleaned_data["status"] if log_filter.is_valid() else ""
    context = {
        "endpoint": endpoint,
        "form": form or EndpointForm(endpoint=endpoint),
        "secret": secret,
        "signature_header": SIGNATURE_HEADER,
        "log_filter": log_filter,
        "deliveries": selectors.deliveries_for_endpoint(endpoint=endpoint, status=shown),
    }
    response = render(request, "settings/webhook_detail.html", context, status=status)
    return _no_store(response, secret)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request, pk: int):
    endpoint = selectors.endpoint_get_for_settings(user=request.user, pk=pk)
    if request.method == "GET":
        return _detail_page(request, endpoint)
    form = EndpointForm(request.POST, endpoint=endpoint)
    if form.is_valid():
        try:
            services.endpoint_update(acting_user=request.user, endpoint=endpoint, **form.values())
        except AddressRefused as error:
            form.add_error("url", str(error))
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("settings-webhook", pk=pk)
    return _detail_page(request, endpoint, form=form, status=400)


@login_required
@require_POST
def webhook_delete(request, pk: int):
    endpoint = selectors.endpoint_get_for_settings(user=request.user, pk=pk)
    services.endpoint_delete(acting_user=request.user, endpoint=endpoint)
    messages.success(request, _("Endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect("settings-webhooks")


@login_required
@require_POST
def webhook_secret_rotate(request, pk: int):
    endpoint = selectors.endpoint_get_for_settings(user=request.user, pk=pk)
    secret = services.endpoint_secret_rotate(acting_user=request.user, endpoint=endpoint)
    messages.success(request, _("New signing secret made: the old one no longer signs."))
    return _detail_page(request, endpoint, secret=secret)


@login_required
@require_POST
def webhook_set_active(request, pk: int):
    endpoint = selectors.endpoint_get_for_settings(user=request.user, pk=pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    active = form.cleaned_data["active"]
    services.endpoint_set_active(acting_user=request.user, endpoint=endpoint, active=active)
    if active:
        messages.success(request, _("Endpoint on: waiting deliveries are sent now."))
    else:
        messages.success(request, _("Endpoint off: events for it wait until it is on again."))
    return redirect("settings-webhook", pk=pk)


@login_required
@require_POST
def webhook_send_test(request, pk: int):
    endpoint = selectors.endpoint_get_for_settings(user=request.user, pk=pk)
    if not endpoint.is_sending:
        return refusal(request, _("Switch the endpoint on to send a test event."), status=400)
    services.endpoint_send_test(acting_user=request.user, endpoint=endpoint)
    messages.success(request, _("Test event queued: its result appears in the log below."))
    return redirect(reverse("settings-webhook", args=[pk]) + "#delivery-log")


@login_required
@require_POST
def webhook_delivery_resend(request, pk: int, delivery_pk: int):
    endpoint = selectors.endpoint_get_for_settings(user=request.user, pk=pk)
    delivery = selectors.delivery_get_for_settings(
        user=request.user, endpoint=endpoint, pk=delivery_pk
    )
    services.delivery_resend(acting_user=request.user, delivery=delivery)
    messages.success(request, _("Delivery queued to be sent again."))
    return redirect(reverse("settings-webhook", args=[pk]) + "#delivery-log")
