"""Company and contact pages: lists with search and paging, detail pages, forms and notes."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import selectors, services
from crm.forms import CompanyForm, CompanyListForm, ContactForm, ListSearchForm, NoteForm
from crm.models import Tier
from crm.organisation import organisation_get
from crm.web.refusals import form_refusal, refusal

PAGE_SIZE = 25


def _list_page(request, *, queryset, form: ListSearchForm, template: str, extra: dict):
    """One page of a searched list; for htmx only the results fragment."""
    q = form.cleaned_data["q"]
    tiers = form.cleaned_data.get("tier") or []
    page = Paginator(queryset, PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
    params = [("q", q)] if q else []
    params += [("tier", tier) for tier in tiers]
    context = {"page": page, "q": q, "query": urlencode(params), **extra}
    return render(request, f"{template}#results" if request.htmx else template, context)


# --- companies ----------------------------------------------------------------------------


@login_required
@require_GET
def company_list(request):
    form = CompanyListForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    companies = selectors.companies_for_user(
        user=request.user, q=form.cleaned_data["q"], tiers=form.tiers()
    )
    return _list_page(
        request,
        queryset=companies,
        form=form,
        template="crm/company_list.html",
        extra={"tiers": form.tiers(), "tier_choices": Tier.choices},
    )


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
        "note_form": note_form or NoteForm(),
        "can_edit": selectors.can_edit_company(user=request.user, company=company),
        "tier_changes": selectors.tier_changes_for_company(company=company),
        "organisation": organisation_get(),
    }
    return render(request, "crm/company_detail.html", context, status=status)


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
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _company_page(request, company, status=400, note_form=form)
    services.note_create(acting_user=request.user, subject=company, body=form.cleaned_data["body"])
    messages.success(request, _("Note added."))
    return redirect(company)


# --- contacts -----------------------------------------------------------------------------


@login_required
@require_GET
def contact_list(request):
    form = ListSearchForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    contacts = selectors.contacts_for_user(user=request.user, q=form.cleaned_data["q"])
    return _list_page(
        request, queryset=contacts, form=form, template="crm/contact_list.html", extra={}
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request):
    initial = {}
    if request.method == "GET" and "company" in request.GET:
        raw = request.GET["company"]
        if not raw.isdigit() or len(raw) > 18:
            return refusal(request, _("That company could not be found."), status=400)
        initial["company"] = selectors.company_get_for_user(
            user=request.user, pk=int(raw), write=True
        )
    form = ContactForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(acting_user=request.user, **form.contact_data())
        except services.CrmRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("Contact added."))
            return redirect(contact)
    status = 400 if request.method == "POST" else 200
    return render(request, "crm/contact_form.html", {"form": form}, status=status)


def _contact_page(request, contact, *, status: int = 200, note_form=None):
    context = {
        "contact": contact,
        "company": contact.company,
        "deals": selectors.deals_for_contact(contact=contact, user=request.user),
        "notes": selectors.notes_for(contact=contact),
        "note_form": note_form or NoteForm(),
        "can_edit": selectors.can_edit_company(user=request.user, company=contact.company),
    }
    return render(request, "crm/contact_detail.html", context, status=status)


@login_required
@require_GET
def contact_detail(request, pk: int):
    contact = selectors.contact_get_for_user(user=request.user, pk=pk)
    return _contact_page(request, contact)


@login_required
@require_http_methods(["GET", "POST"])
def contact_update(request, pk: int):
    contact = selectors.contact_get_for_user(user=request.user, pk=pk, write=True)
    form = ContactForm(request.POST or None, user=request.user, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.contact_update(
                acting_user=request.user, contact=contact, **form.contact_data()
            )
        except services.CrmRuleError as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, _("Saved.") if changed else _("Nothing to save."))
            return redirect(contact)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "contact": contact}
    return render(request, "crm/contact_form.html", context, status=status)


@login_required
@require_POST
def contact_note_create(request, pk: int):
    contact = selectors.contact_get_for_user(user=request.user, pk=pk, write=True)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _contact_page(request, contact, status=400, note_form=form)
    services.note_create(acting_user=request.user, subject=contact, body=form.cleaned_data["body"])
    messages.success(request, _("Note added."))
    return redirect(contact)
