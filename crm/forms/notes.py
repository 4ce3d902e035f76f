"""Notes on companies, contacts and deals."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a note…")}),
    )
