"""ABC tiers: the thresholds and the tier filter of the lists."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms.fields import LocalDecimalField
from crm.models import Tier


class TierFilterField(forms.MultipleChoiceField):
    """Empty values (an empty ?tier=) mean "any tier", not a bad choice."""

    def to_python(self, value):
        return [v for v in super().to_python(value) if v]


def tier_filter_field() -> forms.MultipleChoiceField:
    """?tier=A&tier=B on the company list and the board: an allow-list of A, B and C."""
    return TierFilterField(
        label=_("Tier"),
        choices=Tier.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": _("Filter by tier A, B or C (%(value)s is not one of them)."),
            "invalid_list": _("Filter by tier A, B or C."),
        },
    )


class TierThresholdsForm(forms.Form):
    """The A and B thresholds (reporting currency): A >= B >= 0, whole cents."""

    a_threshold = LocalDecimalField(
        label=_("A at or above"),
        min_value=0,
        max_value=10**15,
        max_digits=17,
        decimal_places=2,
    )
    b_threshold = LocalDecimalField(
        label=_("B at or above"),
        min_value=0,
        max_value=10**15,
        max_digits=17,
        decimal_places=2,
    )

    def clean(self):
        cleaned = super().clean()
        a, b = cleaned.get("a_threshold"), cleaned.get("b_threshold")
        if a is not None and b is not None and a < b:
            self.add_error("a_threshold", _("The A threshold must be at least the B threshold."))
        return cleaned
