"""The organisation settings page (`/settings/organisation/`): the organisation's details and
its exchange rates. Admins only (`settings_access`); everyone else gets 403."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import settings_access
from crm.forms.organisation import COMMON_TIME_ZONES, ExchangeRateForm, OrganisationForm
from crm.models import Organisation
from crm.organisation import organisation_get
from crm.selectors.organisation import exchange_rate_history, exchange_rates_current
from crm.services.organisation import OrganisationRuleError, organisation_update
from pipeline.services import exchange_rate_set
from pipeline.services.deals import DealRuleError

TEMPLATE = "settings/organisation.html"


def _page(
    request, *, form=None, rate_form=None, status=200, toast="", organisation=None, rate_error=""
):
    organisation = organisation or organisation_get()
    currency = organisation.reporting_currency
    context = {
        "organisation": organisation,
        "form": form or OrganisationForm(initial=_initial(organisation)),
        "rate_form": rate_form or ExchangeRateForm(reporting_currency=currency),
        "current_rates": exchange_rates_current(reporting_currency=currency),
        "history": exchange_rate_history(),
        "common_time_zones": COMMON_TIME_ZONES,
        "toast": toast,
        "rate_error": rate_error,
    }
    template = f"{TEMPLATE}#settings" if request.htmx else TEMPLATE
    return render(request, template, context, status=status)


def _reporting_currency_now() -> str:
    return Organisation.objects.values_list("reporting_currency", flat=True).get(pk=1)


def _initial(organisation) -> dict:
    fields = ("name", "reporting_currency", "time_zone", "week_start", "language")
    return {field: getattr(organisation, field) for field in fields}


@login_required
@require_http_methods(["GET", "POST"])
def organisation_settings(request):
    settings_access(user=request.user)
    if request.method == "GET":
        return _page(request)
    form = OrganisationForm(request.POST)
    if form.is_valid():
        try:
            organisation = organisation_update(acting_user=request.user, **form.cleaned_data)
        except OrganisationRuleError as error:
            form.add_error(error.field, error.message)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    message = _("Organisation settings saved.")
    if request.htmx:
        return _page(request, toast=message, organisation=organisation)
    messages.success(request, message)
    return redirect("settings-organisation")


@login_required
@require_POST
def exchange_rate_create(request):
    settings_access(user=request.user)
    currency = organisation_get().reporting_currency
    form = ExchangeRateForm(request.POST, reporting_currency=currency)
    if form.is_valid():
        try:
            exchange_rate_set(acting_user=request.user, **form.cleaned_data)
        except DealRuleError as error:
            if form.cleaned_data["reporting_currency"] != _reporting_currency_now():
                # Entered against the old unit: a fresh form in the new one, and why.
                fresh = ExchangeRateForm(reporting_currency=_reporting_currency_now())
                return _page(request, rate_form=fresh, rate_error=str(error), status=409)
            form.add_error(None, str(error))
    if not form.is_valid():
        return _page(request, rate_form=form, status=400)
    message = _("Exchange rate saved.")
    if request.htmx:
        return _page(request, toast=message)
    messages.success(request, message)
    return redirect("settings-organisation")
