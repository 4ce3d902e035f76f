"""Search-as-you-type pickers for a company or a contact, and the query string of their search.

`PickerWidget` renders a text field with the record's name and a hidden field with its id;
`static/js/picker.js` turns it into a WAI-ARIA combobox whose options come from the search
views (`crm/views/pickers.py`) through htmx. Without JavaScript it is a plain text field: the
server resolves the typed name (`PickerField`).

`PickerField` never trusts the submitted id: it looks it up in the queryset the form gave it
(the companies or contacts the user may pick, `crm.selectors.picker_companies` /
`picker_contacts`), exactly as the search does, so another team's id is "not found" like a
missing one and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.selectors import PICKER_LIMIT

MAX_ID = 2**62
MAX_TEXT = 200


@dataclass(frozen=True)
class PickerValue:
    """What a picker submitted: the chosen id and the text in the field. `text` is None when
    the request had no text field (a script posting only the id)."""

    id: str | None
    text: str | None


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class PickerWidget(forms.Widget):
    """The picker's markup (`templates/crm/picker.html`). `search_url_name` names the
    search view; `search_params` (set by the form: the team, "editable") go into its query
    string; `parent` names another picker of the form whose choice narrows this one's search
    (a deal's contact by its company)."""

    template_name = "crm/picker.html"

    def __init__(
        self,
        *,
        search_url_name: str,
        kind: str,
        placeholder: str = "",
        empty_label: str = "",
        attrs: dict | None = None,
    ):
        super().__init__(attrs)
        self.search_url_name = search_url_name
        self.kind = kind
        self.placeholder = placeholder
        self.empty_label = empty_label
        self.search_params: dict[str, object] = {}
        self.parent = ""
        # Set by PickerField: where an id's label is looked up, and the rows already at hand.
        self.queryset: QuerySet | None = None
        self.known: dict[int, object] = {}

    def __deepcopy__(self, memo):
        # Each form gets its own scope and rows: Widget.__deepcopy__ copies only `attrs`.
        result = super().__deepcopy__(memo)
        result.search_params = dict(self.search_params)
        result.known = dict(self.known)
        return result

    def value_from_datadict(self, data, files, name):
        return PickerValue(id=data.get(name), text=data.get(f"{name}_text"))

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}_text" not in data

    def id_for_label(self, id_):
        return id_

    def _selected(self, value) -> tuple[str, str, object | None]:
        """(id, text, the row when looked up) for the value being shown."""
        if isinstance(value, PickerValue):
            if value.text is not None:
                return (value.id or "", value.text, None)
            value = value.id
        if value in (None, ""):
            return ("", "", None)
        if hasattr(value, "pk"):
            return (str(value.pk), str(value), value)
        text = str(value)
        if not text.isdigit() or not 0 < int(text) < MAX_ID:
            return ("", "", None)
        row = self.known.get(int(text))
        if row is None and self.queryset is not None:
            row = self.queryset.filter(pk=int(text)).first()
        if row is None:  # not (or no longer) one the user may pick: show nothing chosen
            return ("", "", None)
        return (text, str(row), row)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        selected_id, text, row = self._selected(value)
        url = reverse(self.search_url_name)
        params = {k: v for k, v in self.search_params.items() if v not in (None, "")}
        if params:
            url = f"{url}?{urlencode(params)}"
        widget = context["widget"]
        widget.update(
            {
                "selected_id": selected_id,
                "text": text,
                "group": getattr(row, "company_id", "") if row is not None else "",
                "search_url": url,
                "kind": self.kind,
                "parent": self.parent,
                "placeholder": self.placeholder,
                "empty_label": self.empty_label,
                "limit": PICKER_LIMIT,
                "max_length": MAX_TEXT,
            }
        )
        return context


class PickerField(forms.Field):
    """A company or contact chosen with a `PickerWidget`, validated against `queryset`.

    The submitted id is looked up in the queryset (a foreign or missing one is "not found").
    Without JavaScript only the text changes: when it is not the chosen row's name any more,
    or no id came, the text is looked up as an exact name (case and spacing aside) among the
    rows of the queryset. An emptied text field means "none"."""

    default_error_messages = {
        "invalid_choice": _("That one could not be found. Pick one from the list."),
        "no_match": _("Nothing is called “%(name)s”. Check the name, or pick one from the list."),
        "ambiguous": _("More than one is called “%(name)s”. Pick the right one from the list."),
        "too_long": _("Type at most %(limit)d characters."),
    }

    def __init__(self, *, widget: PickerWidget, queryset: QuerySet | None = None, **kwargs):
        super().__init__(widget=widget, **kwargs)
        self.queryset = queryset

    def __deepcopy__(self, memo):
        result = super().__deepcopy__(memo)
        result.queryset = self._queryset  # querysets are not deep-copied; set it on the copy
        return result

    @property
    def queryset(self) -> QuerySet | None:
        return self._queryset

    @queryset.setter
    def queryset(self, queryset: QuerySet | None) -> None:
        self._queryset = queryset
        self.widget.queryset = queryset

    def remember(self, row) -> None:
        """A row already loaded (the record's current company): shown without a query."""
        if row is not None:
            self.widget.known[row.pk] = row

    def prepare_value(self, value):
        return value

    def to_python(self, value):
        if isinstance(value, PickerValue):
            raw_id, text = value.id, value.text
        else:
            raw_id, text = value, None
        if hasattr(raw_id, "pk"):
            raw_id = str(raw_id.pk)
        if text is not None:
            text = " ".join(str(text).split())
            if len(text) > MAX_TEXT:
                raise ValidationError(
                    self.error_messages["too_long"], code="too_long", params={"limit": MAX_TEXT}
                )
            if not text:
                return None  # the field was emptied (the clear button, or by hand)
        if raw_id not in self.empty_values:
            row = self._by_id(str(raw_id))
            if text is None or _same_name(str(row), text):
                return row
        if text is None:
            return None
        return self._by_name(text)

    def _by_id(self, raw: str):
        if not raw.isdigit() or not 0 < int(raw) < MAX_ID:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        row = self.queryset.filter(pk=int(raw)).first()
        if row is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return row

    def _by_name(self, text: str):
        # istartswith first: on PostgreSQL it is a range of the pickers' name index.
        rows = list(self.queryset.filter(name__istartswith=text, name__iexact=text)[:2])
        if not rows:
            raise ValidationError(
                self.error_messages["no_match"], code="no_match", params={"name": text}
            )
        if len(rows) > 1:
            raise ValidationError(
                self.error_messages["ambiguous"], code="ambiguous", params={"name": text}
            )
        return rows[0]

    def has_changed(self, initial, data):
        try:
            row = self.to_python(data)
        except ValidationError:
            return True
        initial_pk = getattr(initial, "pk", initial)
        return str(getattr(row, "pk", "") or "") != str(initial_pk or "")


def company_picker_field(**kwargs) -> PickerField:
    """A company picker; the form sets its `queryset` (`crm.selectors.picker_companies`) and
    the widget's `search_params` to the same scope."""
    kwargs.setdefault("label", _("Company"))
    return PickerField(
        widget=PickerWidget(
            search_url_name="company-search",
            kind="company",
            placeholder=_("Type to search companies"),
            empty_label=_("No company"),
        ),
        error_messages={
            "invalid_choice": _("That company could not be found. Pick one from the list."),
            "no_match": _(
                "No company is called “%(name)s”. Check the name, or pick one from the list."
            ),
            "ambiguous": _(
                "More than one company is called “%(name)s”. Pick the right one from the list."
            ),
        },
        **kwargs,
    )


def contact_picker_field(**kwargs) -> PickerField:
    """A contact picker (`crm.selectors.picker_contacts`); with `parent="company"` on its
    widget it searches the contacts of the company picked beside it."""
    kwargs.setdefault("label", _("Contact"))
    return PickerField(
        widget=PickerWidget(
            search_url_name="contact-search",
            kind="contact",
            placeholder=_("Type to search contacts"),
            empty_label=_("No contact"),
        ),
        error_messages={
            "invalid_choice": _("That contact could not be found. Pick one from the list."),
            "no_match": _(
                "No contact is called “%(name)s”. Check the name, or pick one from the list."
            ),
            "ambiguous": _(
                "More than one contact is called “%(name)s”. Pick the right one from the list."
            ),
        },
        **kwargs,
    )


_ID_ERRORS = {
    "invalid": _("That was not understood."),
    "min_value": _("That was not understood."),
    "max_value": _("That was not understood."),
}


class PickerSearchForm(forms.Form):
    """The query string of the pickers' searches: the typed text and the scope (a team, a
    company, only companies the user may change). Whether the user may see that team or
    company is checked by the view's selectors (404)."""

    q = forms.CharField(
        required=False,
        max_length=100,
        strip=True,
        error_messages={"max_length": _("Search for at most %(limit_value)d characters.")},
    )
    team = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, error_messages=_ID_ERRORS
    )
    company = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, error_messages=_ID_ERRORS
    )
    editable = forms.BooleanField(required=False)
