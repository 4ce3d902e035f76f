"""The pickers' searches: the options of a company or contact picker as the user types
(`crm/forms/pickers.py`, `static/js/picker.js`). Answers are HTML fragments for htmx."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm import selectors
from crm.forms.pickers import PickerSearchForm
from crm.web.refusals import form_refusal


@dataclass(frozen=True)
class Option:
    """One row of a picker's list: its id and name (the name split around the typed text, so
    the template can mark it), a second line, and for a contact its company."""

    pk: int
    label: str
    before: str
    match: str
    after: str
    detail: str = ""
    group: int | str = ""
    group_label: str = ""


def _option(pk: int, label: str, q: str, **extra) -> Option:
    # lower() keeps the length for nearly every name; when it does not, mark nothing.
    folded = label.lower()
    at = folded.find(q.lower()) if q and len(folded) == len(label) else -1
    if at < 0:
        return Option(pk, label, label, "", "", **extra)
    end = at + len(q)
    return Option(pk, label, label[:at], label[at:end], label[end:], **extra)


def _options_page(request, *, kind: str, q: str, results, options: list[Option]):
    context = {"kind": kind, "q": q, "options": options, "has_more": results.has_more}
    return render(request, "crm/picker_options.html", context)


@login_required
@require_GET
def company_search(request):
    """Companies matching `q` that the user may pick: of `team` (404 unless the user sees
    it), only those the user may change when `editable`."""
    form = PickerSearchForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    data = form.cleaned_data
    selectors.picker_team_check(user=request.user, team_id=data["team"])
    results = selectors.companies_search_for_user(
        user=request.user, q=data["q"], team_id=data["team"], editable=data["editable"]
    )
    options = [_option(c.pk, c.name, data["q"], detail=c.domain) for c in results.items]
    return _options_page(request, kind="company", q=data["q"], results=results, options=options)


@login_required
@require_GET
def contact_search(request):
    """Contacts matching `q` that the user may pick: of `team` and of `company` when given
    (404 unless the user sees them), each with its company."""
    form = PickerSearchForm(request.GET)
    if not form.is_valid():
        return form_refusal(request, form)
    data = form.cleaned_data
    selectors.picker_team_check(user=request.user, team_id=data["team"])
    if data["company"] is not None:
        selectors.company_get_for_user(user=request.user, pk=data["company"])
    results = selectors.contacts_search_for_user(
        user=request.user, q=data["q"], team_id=data["team"], company_id=data["company"]
    )
    options = [
        _option(
            c.pk,
            c.name,
            data["q"],
            detail=" · ".join(part for part in (c.company.name, c.title) if part),
            group=c.company_id,
            group_label=c.company.name,
        )
        for c in results.items
    ]
    return _options_page(request, kind="contact", q=data["q"], results=results, options=options)
