"""Contact pages: the list, create, the page, edit, notes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import selectors, services
from crm.forms import ContactForm, ListSearchForm
from crm.selectors.exports import CONTACT_HEADER, contact_export_rows
from crm.views import records
from crm.views.lists import list_page
from crm.web.exports import export_stream
from crm.web.refusals import form_refusal, refusal


@login_required
@require_GET
def contact_list(request):
    form = ListSearchForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    contacts = selectors.contacts_for_user(user=request.user, q=form.cleaned_data["q"])
    return list_page(
        request, queryset=contacts, form=form, template="crm/contact_list.html", extra={}
    )


@login_required
@require_GET
def contact_export(request, file_format: str):
    """The contacts the list shows for its search, every page, as CSV or XLSX."""
    form = ListSearchForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    rows = contact_export_rows(user=request.user, q=form.cleaned_data["q"])
    return export_stream(file_format, name="contacts", header=CONTACT_HEADER, rows=rows)


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
        "can_edit": selectors.can_edit_company(user=request.user, company=contact.company),
    }
    return records.record_page(
        request, "crm/contact_detail.html", context, status=status, note_form=note_form
    )


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
    return records.note_create(request, contact, page=_contact_page)
