"""Form fields shared by the apps' forms."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.web.formats import NumberParseError, format_number, parse_number


class LocalDecimalInput(forms.TextInput):
    """A text box, not `<input type=number>`: a number box drops "12.500,50" (it takes the
    browser's locale, not the page's, and posts nothing it cannot read). `inputmode` still
    brings up the phone's number pad. A stored value is shown in the page's language."""

    input_type = "text"

    def __init__(self, attrs=None, decimals: int | None = 2):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})
        self.decimals = decimals

    def format_value(self, value):
        if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool):
            decimals = self.decimals
            if decimals and Decimal(value) == Decimal(value).to_integral_value():
                decimals = 0  # "12.500", not "12.500,00", for a whole amount
            return format_number(value, decimals)
        return super().format_value(value)


class LocalDecimalField(forms.DecimalField):
    """An amount or a rate typed the way the page's language writes it: "12.500,50" (da,
    de), "12 500,50" (sv, nb; a space, a no-break or a narrow no-break space), "12,500.50"
    (en-gb), and a plain "12500.50" everywhere (crm.web.formats.parse_number). Anything else
    is refused with an example in the page's language."""

    widget = LocalDecimalInput
    default_error_messages = {
        "invalid": _("Enter a number like %(example)s."),
    }

    def __init__(self, *args, **kwargs):
        kwargs.pop("localize", None)
        super().__init__(*args, **kwargs)
        self.widget.decimals = self.decimal_places
        # The number box's min/max/step attributes mean nothing on a text box.
        for attribute in ("min", "max", "step"):
            self.widget.attrs.pop(attribute, None)

    def widget_attrs(self, widget):
        return {}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        text = str(value).strip()
        if len(text) > 60:  # longer than any amount with its separators
            raise self._invalid()
        try:
            number = parse_number(text)
        except NumberParseError:
            raise self._invalid() from None
        if not number.is_finite():
            raise self._invalid()
        return number

    def _invalid(self) -> ValidationError:
        example = format_number(Decimal("12500.50"), 2)
        return ValidationError(
            self.error_messages["invalid"], code="invalid", params={"example": example}
        )
