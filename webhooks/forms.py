"""The webhook settings forms: the endpoint (URL, events, team) and the small action forms."""

from __future__ import annotations

from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from webhooks.addresses import AddressRefused, url_check_on_save
from webhooks.models import DeliveryStatus, EventType
from webhooks.selectors import teams_for_webhooks


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=500,
        help_text=_("Where the CRM posts events, e.g. https://example.com/crm-webhook."),
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        help_text=_("What receives it, for the people who look after it."),
    )
    team = forms.ModelChoiceField(
        label=_("Events of"),
        queryset=None,
        required=False,
        empty_label=_("Every team"),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Pick at least one event.")},
    )

    def __init__(self, *args, endpoint=None, **kwargs):
        if endpoint is not None and not kwargs.get("data") and not (args and args[0]):
            kwargs["initial"] = {
                "url": endpoint.url,
                "description": endpoint.description,
                "team": endpoint.team_id,
                "events": endpoint.events,
            }
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for_webhooks()

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        try:
            URLValidator(schemes=["http", "https"])(url)
        except forms.ValidationError as error:
            raise forms.ValidationError(
                _("Enter a full URL, e.g. https://example.com/hook.")
            ) from error
        try:
            url_check_on_save(url)
        except AddressRefused as error:
            raise forms.ValidationError(str(error)) from error
        return url

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "description": data["description"],
            "team": data["team"],
            "events": list(data["events"]),
        }


class LogFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Show"),
        choices=[("", _("All deliveries")), *DeliveryStatus.choices],
        required=False,
    )
