"""Deals: create, quick add, edit, move (with exit criteria), close, pause."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import users_of_team
from crm.forms.fields import LocalDecimalField
from crm.forms.pickers import company_picker_field, contact_picker_field
from crm.models import Company, Contact
from crm.selectors import picker_companies, picker_contacts
from pipeline.forms.board import MAX_LOADED_CARDS
from pipeline.models import (
    Deal,
    LostReason,
    Pipeline,
    ProductArea,
    Stage,
)

MAX_TICKED_CRITERIA = 50

# What the deal form and the create form both edit, in this order (create adds the stage).
_DEAL_DETAIL_FIELDS = (
    "company",
    "contact",
    "owner",
    "value",
    "currency",
    "expected_close_date",
    "product_area",
)
# The value as the page's language writes it ("12.500,50" in Danish), shown back the same way.
_FIELD_CLASSES = {"value": LocalDecimalField}
_DATE_WIDGETS = {"expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}


class IdListField(forms.Field):
    """Several ids under one name (`criteria=3&criteria=5`): positive integers, a bounded
    number of them, duplicates dropped."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": _("Those exit criteria were not understood."),
        "too_many": _("Too many exit criteria were sent."),
    }

    def to_python(self, value) -> list[int]:
        if value in self.empty_values:
            return []
        if not isinstance(value, (list, tuple)):
            value = [value]
        if len(value) > MAX_TICKED_CRITERIA:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        ids = []
        for item in value:
            text = str(item)
            if not text.isdigit() or not 0 < int(text) < 2**62:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            ids.append(int(text))
        return sorted(set(ids))


class DealMoveForm(forms.Form):
    """A drop (stage, the cards above and below, the card's version, how many cards the two
    columns show) or the deal page's "Move to stage", with the exit criteria the user ticked.
    `confirm` says the user has seen the criteria (the deal page's second step). Whether the
    stage belongs to the deal's pipeline, and whether the ticked criteria belong to the
    stages being left, is checked by the service, under the column lock."""

    stage = forms.IntegerField(min_value=1, max_value=2**62, label=_("Move to stage"))
    after = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    before = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    version = forms.IntegerField(required=False, min_value=1, max_value=2**31)
    loaded = forms.IntegerField(required=False, min_value=0, max_value=MAX_LOADED_CARDS)
    criteria = IdListField(required=False)
    confirm = forms.BooleanField(required=False)


class DealForm(forms.ModelForm):
    """Edit a deal. Owner is offered only to those who may reassign; the version travels along
    so a stale save is detected. Company and contact are pickers (`crm/forms/pickers.py`)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31)
    company = company_picker_field(required=False)
    contact = contact_picker_field(required=False)

    class Meta:
        model = Deal
        fields = [
            "title",
            *_DEAL_DETAIL_FIELDS,
            "need_confirmed",
            "decision_maker_known",
            "timeline_confirmed",
        ]
        widgets = _DATE_WIDGETS
        field_classes = _FIELD_CLASSES

    def __init__(self, *args, pipeline: Pipeline, can_reassign: bool, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_people_and_companies(self, pipeline=pipeline, can_reassign=can_reassign, user=user)


class DealCreateForm(forms.ModelForm):
    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), label=_("Stage"))
    company = company_picker_field(required=False)
    contact = contact_picker_field(required=False)

    class Meta:
        model = Deal
        fields = ["title", "stage", *_DEAL_DETAIL_FIELDS]
        widgets = _DATE_WIDGETS
        field_classes = _FIELD_CLASSES

    def __init__(self, *args, pipeline: Pipeline, can_reassign: bool, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.active().filter(pipeline=pipeline)
        _limit_people_and_companies(self, pipeline=pipeline, can_reassign=can_reassign, user=user)


class QuickDealForm(forms.ModelForm):
    """The column's "+": the few fields a salesperson has at hand."""

    company = company_picker_field(required=False)

    class Meta:
        model = Deal
        fields = ["title", "company", "value", "currency", "expected_close_date"]
        widgets = _DATE_WIDGETS
        field_classes = _FIELD_CLASSES

    def __init__(self, *args, pipeline: Pipeline, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_people_and_companies(self, pipeline=pipeline, can_reassign=False, user=user)


def _limit_people_and_companies(
    form, *, pipeline: Pipeline, can_reassign: bool, user: User
) -> None:
    _limit_pickers(form, pipeline=pipeline, user=user)
    if "owner" in form.fields:
        if can_reassign:
            form.fields["owner"].queryset = users_of_team(team_id=pipeline.team_id)
            form.fields["owner"].empty_label = _("Unassigned")
        else:
            del form.fields["owner"]
    if "product_area" in form.fields:
        # Retired areas are not offered, but one already set on the deal stays selectable.
        current = getattr(form.instance, "product_area_id", None)
        form.fields["product_area"].queryset = ProductArea.objects.filter(
            Q(is_active=True) | Q(pk=current)
        )
        form.fields["product_area"].empty_label = _("No product area")
    if "value" in form.fields:
        form.fields["value"].min_value = 0
        form.fields["value"].max_value = 999_999_999_999


def _limit_pickers(form, *, pipeline: Pipeline, user: User) -> None:
    """The company and contact pickers offer and accept what the user sees in the pipeline's
    team (a deal's company belongs to its pipeline's team), the search and the validation
    alike; the deal's current company and contact stay valid even when the user could not
    pick them today (a company owned by someone else in an "own deals only" team). The
    contact picker searches within the chosen company."""
    deal = form.instance
    company = form.fields["company"]
    company.queryset = picker_companies(user=user, team_id=pipeline.team_id)
    if deal.company_id is not None:
        company.queryset = company.queryset | Company.objects.filter(pk=deal.company_id)
        if Deal.company.is_cached(deal):
            company.remember(deal.company)
    company.widget.search_params = {"team": pipeline.team_id}
    if "contact" not in form.fields:
        return
    contact = form.fields["contact"]
    contacts = picker_contacts(user=user, team_id=pipeline.team_id)
    if deal.contact_id is not None:
        contacts = contacts | Contact.objects.filter(pk=deal.contact_id)
        if Deal.contact.is_cached(deal):
            contact.remember(deal.contact)
    # A name typed without JavaScript is looked up among the chosen company's contacts.
    chosen = form.data.get(form.add_prefix("company"), "") if form.is_bound else ""
    if isinstance(chosen, str) and chosen.isdigit() and len(chosen) < 19:
        contacts = contacts.filter(company_id=int(chosen))
    contact.queryset = contacts
    contact.widget.search_params = {"team": pipeline.team_id}
    contact.widget.parent = form.add_prefix("company")


class DealLostForm(forms.Form):
    reason = forms.ModelChoiceField(
        queryset=LostReason.objects.filter(is_active=True),
        label=_("Why was it lost?"),
        empty_label=_("Choose a reason"),
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


class VersionForm(forms.Form):
    version = forms.IntegerField(required=False, min_value=1, max_value=2**31)


class PauseForm(forms.Form):
    """Pause a deal: why, and until when (the deal comes back on the board that day)."""

    until = forms.DateField(
        label=_("Resume on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(
        label=_("Why pause it?"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Waiting for next year's budget")}),
    )
    version = forms.IntegerField(
        required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31
    )

    def clean_until(self) -> date:
        until = self.cleaned_data["until"]
        today = timezone.localdate()
        if not today < until <= today + timedelta(days=2 * 365):
            raise forms.ValidationError(_("Pick a resume date after today, within two years."))
        return until
