"""Settings pages for website lead forms (admins only): the list with a new form, and each
form's page (fields, texts, who gets leads, first next step, websites; the public address
and the snippets to paste, with the counts of leads and of blocked spam). The public door is
`views/lead_forms_public.py`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.mail import absolute_url
from crm.web.forms import ActiveForm
from crm.web.refusals import form_errors_text, refusal
from pipeline import selectors, services
from pipeline.forms.lead_forms import LeadFormCreateForm, LeadFormSettingsForm
from pipeline.models import HONEYPOT_FIELD, TOKEN_FIELD, LeadForm


@login_required
@require_http_methods(["GET", "POST"])
def lead_form_list(request):
    lead_forms = selectors.lead_forms_for_settings(user=request.user)
    form = LeadFormCreateForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                lead_form = services.lead_form_create(acting_user=request.user, **form.cleaned_data)
            except services.LeadFormError as error:
                form.add_error(error.field, str(error))
            else:
                messages.success(request, _("Form “%(name)s” created.") % {"name": lead_form.name})
                return redirect("settings-lead-form", pk=lead_form.pk)
        status = 400
    context = {"lead_forms": lead_forms, "form": form}
    return render(request, "settings/lead_form_list.html", context, status=status)


def _snippets(lead_form: LeadForm) -> dict:
    """The public address and what to paste into a website, built from SITE_URL (never from
    the request's Host header)."""
    public_url = absolute_url(reverse("lead-form-public", args=[lead_form.key]))
    with translation.override(lead_form.language):
        return _snippets_in_language(lead_form, public_url)


def _snippets_in_language(lead_form: LeadForm, public_url: str) -> dict:
    context = {
        "lead_form": lead_form,
        "public_url": public_url,
        "start_url": absolute_url(reverse("lead-form-start", args=[lead_form.key])),
        "token_url": absolute_url(reverse("lead-form-token", args=[lead_form.key])),
        "fields": selectors.lead_form_fields(lead_form),
        "honeypot": HONEYPOT_FIELD,
        "token_field": TOKEN_FIELD,
    }
    return {
        "public_url": public_url,
        "snippet_form": render_to_string("lead_forms/snippet_form.txt", context).strip(),
        "snippet_iframe": render_to_string("lead_forms/snippet_iframe.txt", context).strip(),
        "snippet_json": render_to_string("lead_forms/snippet_json.txt", context).strip(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def lead_form_detail(request, pk: int):
    lead_form = selectors.lead_form_get_for_settings(user=request.user, pk=pk)
    form = LeadFormSettingsForm(
        request.POST if request.method == "POST" else None, lead_form=lead_form
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.lead_form_update(
                    acting_user=request.user, lead_form=lead_form, values=form.settings_values()
                )
            except services.LeadFormError as error:
                form.add_error(error.field, str(error))
            else:
                messages.success(request, _("Form saved."))
                return redirect("settings-lead-form", pk=pk)
        status = 400
    first_stage, routines = selectors.lead_form_first_stage(lead_form=lead_form)
    context = {
        "lead_form": lead_form,
        "form": form,
        "first_stage": first_stage,
        "routines": routines,
        **_snippets(lead_form),
    }
    return render(request, "settings/lead_form_detail.html", context, status=status)


@login_required
@require_POST
def lead_form_set_active(request, pk: int):
    lead_form = selectors.lead_form_get_for_settings(user=request.user, pk=pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        return refusal(request, form_errors_text(form), status=400)
    active = form.cleaned_data["active"]
    services.lead_form_set_active(acting_user=request.user, lead_form=lead_form, active=active)
    if active:
        messages.success(request, _("“%(name)s” takes leads again.") % {"name": lead_form.name})
    else:
        message = _("“%(name)s” is off: its address and snippets take no leads.")
        messages.success(request, message % {"name": lead_form.name})
    return redirect(reverse("settings-lead-form", args=[pk]))
