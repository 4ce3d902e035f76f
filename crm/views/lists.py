"""Searched, paged lists: the shape the company and contact lists share."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render

from crm.forms import ListSearchForm

PAGE_SIZE = 25


def list_page(request, *, queryset, form: ListSearchForm, template: str, extra: dict):
    """One page of a searched list; for htmx only the results fragment."""
    q = form.cleaned_data["q"]
    tiers = form.cleaned_data.get("tier") or []
    page = Paginator(queryset, PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
    params = [("q", q)] if q else []
    params += [("tier", tier) for tier in tiers]
    context = {"page": page, "q": q, "query": urlencode(params), **extra}
    return render(request, f"{template}#results" if request.htmx else template, context)
