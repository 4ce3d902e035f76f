"""Small forms that several settings pages share."""

from __future__ import annotations

from django import forms


class ActiveForm(forms.Form):
    """A switch's POST: `active=1` turns a thing on, `active=0` off (anything else is 400)."""

    active = forms.TypedChoiceField(
        choices=[("1", "on"), ("0", "off")], coerce=lambda value: value == "1"
    )
