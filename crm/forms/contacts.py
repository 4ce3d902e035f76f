"""Contacts."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from crm.forms.companies import PHONE_VALIDATOR
from crm.models import Contact
from crm.selectors import companies_editable_by


class ContactForm(forms.Form):
    """Add or edit a contact under one of the companies the user may change."""

    company = forms.ModelChoiceField(label=_("Company"), queryset=None)
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        validators=[PHONE_VALIDATOR],
    )
    title = forms.CharField(label=_("Job title"), max_length=120, required=False)

    def __init__(self, *args, user: User, contact: Contact | None = None, **kwargs):
        if contact is not None:
            kwargs.setdefault(
                "initial",
                {
                    "company": contact.company_id,
                    "name": contact.name,
                    "email": contact.email,
                    "phone": contact.phone,
                    "title": contact.title,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = companies_editable_by(user=user).order_by("name", "pk")

    def contact_data(self) -> dict:
        """Keyword arguments for `contact_create` / `contact_update`."""
        return dict(self.cleaned_data)
