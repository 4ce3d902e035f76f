"""The search and paging of the company and contact lists."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_PAGE = 100_000


class ListSearchForm(forms.Form):
    """The query string of the company and contact lists: search text and page number."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        strip=True,
        error_messages={"max_length": _("Search for at most %(limit_value)d characters.")},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "invalid": _("The page must be a whole number."),
            "min_value": _("Pages are numbered from 1."),
            "max_value": _("There is no page that far on."),
        },
    )
