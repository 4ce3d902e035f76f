"""Company pages: the list, create (with the duplicate check), the page, edit, notes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import selectors, services
from crm.forms import CompanyForm, CompanyListForm
from crm.models import Tier
from crm.organisation import organisation_get
from crm.selectors.exports import COMPANY_HEADER, company_export_rows
from crm.views import records
from crm.views.lists import list_page
from crm.web.exports import export_stream
from crm.web.refusals import form_refusal


@login_required
@require_GET
def company_list(request):
    form = CompanyListForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    companies = selectors.companies_for_user(
        user=request.user, q=form.cleaned_data["q"], tiers=form.tiers()
    )
    return list_page(
        request,
        queryset=companies,
        form=form,
        template="crm/company_list.html",
        extra={"tiers": form.tiers(), "tier_choices": Tier.choices},
    )


@login_required
@require_GET
def company_export(request, file_format: str):
    """The companies the list shows for its filters, every page, as CSV or XLSX."""
    form = CompanyListForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    rows = company_export_rows(user=request.user, q=form.cleaned_data["q"], tiers=form.tiers())
    return export_stream(file_format, name="companies", header=COMPANY_HEADER, rows=rows)


def _unconfirmed_duplicates(request, form: CompanyForm, data: dict, company=None) -> list:
    """The look-alikes to ask about, unless the user already pressed "... anyway"."""
    if form.cleaned_data.get("confirm_duplicate"):
        return []
    return selectors.company_duplicates_for_user(
        user=request.user,
        team_id=data["team"].pk,
        name=data["name"],
        domain=data["domain"],
        website=data["website"],
        company=company,
    )


@login_required
@require_http_methods(["GET", "POST"])
def company_create(request):
    form = CompanyForm(request.POST or None, user=request.user)
    matches = []
    if request.method == "POST" and form.is_valid():
        data = form.company_data()
        matches = _unconfirmed_duplicates(request, form, data)
        if not matches:
            try:
                company = services.company_create(acting_user=request.user, **data)
            except services.CrmRuleError as error:
                form.add_error(error.field, error.message)
            else:
                messages.success(request, _("Company added."))
                return redirect(company)
    # Valid input that only needs the user's word ("Did you mean ...?") is not an error.
    status = 400 if request.method == "POST" and not matches else 200
    context = {"form": form, "matches": matches}
    return render(request, "crm/company_form.html", context, status=status)


def _company_page(request, company, *, status: int = 200, note_form=None):
    context = {
        "company": company,
        "contacts": selectors.contacts_for_company(company=company),
        "deals": selectors.deals_for_company(company=company, user=request.user),
        "notes": selectors.notes_for(company=company),
        "can_edit": selectors.can_edit_company(user=request.user, company=company),
        "tier_changes": selectors.tier_changes_for_company(company=company),
        "organisation": organisation_get(),
    }
    return records.record_page(
        request, "crm/company_detail.html", context, status=status, note_form=note_form
    )


@login_required
@require_GET
def company_detail(request, pk: int):
    company = selectors.company_get_for_user(user=request.user, pk=pk)
    return _company_page(request, company)


@login_required
@require_http_methods(["GET", "POST"])
def company_update(request, pk: int):
    company = selectors.company_get_for_user(user=request.user, pk=pk, write=True)
    form = CompanyForm(request.POST or None, user=request.user, company=company)
    matches = []
    if request.method == "POST" and form.is_valid():
        data = form.company_data()
        matches = _unconfirmed_duplicates(request, form, data, company=company)
        if not matches:
            try:
                changed = services.company_update(acting_user=request.user, company=company, **data)
            except services.CrmRuleError as error:
                form.add_error(error.field, error.message)
            else:
                messages.success(request, _("Saved.") if changed else _("Nothing to save."))
                return redirect(company)
    status = 400 if request.method == "POST" and not matches else 200
    context = {"form": form, "company": company, "matches": matches}
    return render(request, "crm/company_form.html", context, status=status)


@login_required
@require_POST
def company_note_create(request, pk: int):
    company = selectors.company_get_for_user(user=request.user, pk=pk, write=True)
    return records.note_create(request, company, page=_company_page)
