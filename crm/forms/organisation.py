"""Forms of the organisation settings page: the organisation's details and a new exchange
rate. They check types, lengths and ranges; the services check the rules again."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.forms.fields import LocalDecimalField
from crm.models import WeekStart
from crm.services.organisation import currencies, time_zone_names

# Offered first in the time zone list; any IANA name is accepted.
COMMON_TIME_ZONES = [
    "Europe/Copenhagen",
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Helsinki",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Paris",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Warsaw",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Lisbon",
    "Europe/Dublin",
    "Europe/London",
    "Atlantic/Reykjavik",
    "UTC",
]


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Organisation name"), max_length=100, strip=True)
    reporting_currency = forms.ChoiceField(
        label=_("Reporting currency"),
        help_text=_(
            "Totals, forecasts, targets and tier thresholds are shown in it. Changing it "
            "converts stored totals and exchange rates with the rates in force."
        ),
    )
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        help_text=_("Decides today, overdue next steps, the week and the digest hour."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )
    week_start = forms.TypedChoiceField(
        label=_("Weeks start on"), choices=WeekStart.choices, coerce=int
    )
    # Optional in a request (left out: unchanged), always offered on the page.
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Of mail from the CRM, such as invitations, and of the interface."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reporting_currency"].choices = [(c, c) for c in currencies()]
        self.fields["language"].choices = settings.LANGUAGES

    def clean_language(self) -> str | None:
        return self.cleaned_data["language"] or None

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"].strip()
        if value not in time_zone_names():
            raise forms.ValidationError(
                _("Unknown time zone; use a name like Europe/Copenhagen."), code="time_zone"
            )
        return value


class ExchangeRateForm(forms.Form):
    currency = forms.ChoiceField(label=_("Currency"))
    rate = LocalDecimalField(
        label=_("Rate"),
        max_digits=18,
        decimal_places=8,
        validators=[
            MinValueValidator(Decimal("0.00000001")),
            MaxValueValidator(Decimal("1000000")),
        ],
    )
    valid_from = forms.DateField(
        label=_("Valid from"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    # The currency the rate is entered against: a rate typed while another admin switched
    # the reporting currency is refused, not stored against the wrong unit.
    reporting_currency = forms.CharField(max_length=3, widget=forms.HiddenInput)

    def __init__(self, *args, reporting_currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reporting_currency"].initial = reporting_currency
        self.fields["currency"].choices = [(c, c) for c in currencies() if c != reporting_currency]
        self.fields["rate"].help_text = _("How many %(currency)s one unit is worth.") % {
            "currency": reporting_currency
        }
        self.fields["valid_from"].initial = timezone.localdate()

    def clean_valid_from(self) -> date:
        value = self.cleaned_data["valid_from"]
        today = timezone.localdate()
        if not date(2000, 1, 1) <= value <= today + timedelta(days=366):
            raise forms.ValidationError(
                _("Pick a date from 2000 up to a year ahead."), code="valid_from"
            )
        return value
