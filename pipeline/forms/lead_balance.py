"""Input of the lead balance page: which team (one the user may see) and a capacity (0 to
CAPACITY_MAX open deals, or empty to remove it)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from pipeline.models import CAPACITY_MAX

MAX_ID = 2**62


class LeadBalanceFilterForm(forms.Form):
    team = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class CapacityForm(forms.Form):
    team = forms.IntegerField(min_value=1, max_value=MAX_ID)
    user = forms.IntegerField(min_value=1, max_value=MAX_ID)
    open_deals = forms.IntegerField(
        label=_("Open-deal capacity"), required=False, min_value=0, max_value=CAPACITY_MAX
    )
