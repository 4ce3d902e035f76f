"""Contacts."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from crm.forms.companies import PHONE_VALIDATOR
from crm.forms.pickers import company_picker_field
from crm.models import Contact
from crm.selectors import picker_companies


class ContactForm(forms.Form):
    """Add or edit a contact under one of the companies the user may change (a picker that
    searches and accepts only those)."""

    company = company_picker_field()
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
        company = self.fields["company"]
        company.queryset = picker_companies(user=user, editable=True)
        company.widget.search_params = {"editable": 1}
        if contact is not None:
            company.remember(contact.company)

    def contact_data(self) -> dict:
        """Keyword arguments for `contact_create` / `contact_update`."""
        return dict(self.cleaned_data)
