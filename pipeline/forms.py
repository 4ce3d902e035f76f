"""Input validation for the pipeline pages, including query strings (filters, cursors)."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import users_of_team
from crm.forms import tier_filter_field
from crm.models import Company, Contact
from pipeline.models import (
    Activity,
    ActivityKind,
    Deal,
    LostReason,
    Pipeline,
    ProductArea,
    Stage,
)
from pipeline.selectors.board import BoardFilters
from pipeline.services.activities import NextStep

MAX_LOADED_CARDS = 500


class BoardFilterForm(forms.Form):
    """Board filters from the query string: owner is "any", "me", "none" or the id of a member
    of the pipeline's team; q is search text. Members are read only when needed (the select's
    options, or an owner id to check), so a drop with "anyone" costs no query here."""

    FIXED_OWNERS = ("any", "me", "none")

    owner = forms.CharField(label=_("Owner"), required=False, max_length=20)
    q = forms.CharField(label=_("Search"), required=False, max_length=100, strip=True)
    attention = forms.BooleanField(label=_("Needs attention"), required=False)
    tier = tier_filter_field()

    def __init__(self, *args, pipeline: Pipeline, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipeline = pipeline

    @cached_property
    def people(self):
        return list(users_of_team(team_id=self.pipeline.team_id))

    @property
    def owner_choices(self) -> list[tuple[str, str]]:
        return [
            ("any", _("Anyone")),
            ("me", _("My deals")),
            ("none", _("Unassigned")),
            *[(str(u.pk), str(u)) for u in self.people],
        ]

    def clean_owner(self) -> str:
        owner = self.cleaned_data.get("owner") or "any"
        if owner in self.FIXED_OWNERS:
            return owner
        if not owner.isdigit() or int(owner) not in {u.pk for u in self.people}:
            raise forms.ValidationError(
                _("Select a valid choice. That person is not in this pipeline's team.")
            )
        return owner

    def filters(self) -> BoardFilters:
        return BoardFilters(
            owner=self.cleaned_data["owner"],
            q=self.cleaned_data.get("q") or "",
            attention=bool(self.cleaned_data.get("attention")),
            tiers=tuple(sorted(set(self.cleaned_data.get("tier") or ()))),
        )


class CursorForm(forms.Form):
    """Where the next page of a column starts: after the card at (position, id)."""

    after_position = forms.IntegerField(min_value=-(2**62), max_value=2**62)
    after_id = forms.IntegerField(min_value=1, max_value=2**62)


MAX_TICKED_CRITERIA = 50


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
    so a stale save is detected."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31)

    class Meta:
        model = Deal
        fields = [
            "title",
            "company",
            "contact",
            "owner",
            "value",
            "currency",
            "expected_close_date",
            "product_area",
            "need_confirmed",
            "decision_maker_known",
            "timeline_confirmed",
        ]
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        }

    def __init__(self, *args, pipeline: Pipeline, can_reassign: bool, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_people_and_companies(self, pipeline=pipeline, can_reassign=can_reassign)


class DealCreateForm(forms.ModelForm):
    stage = forms.ModelChoiceField(queryset=Stage.objects.none(), label=_("Stage"))

    class Meta:
        model = Deal
        fields = [
            "title",
            "stage",
            "company",
            "contact",
            "owner",
            "value",
            "currency",
            "expected_close_date",
            "product_area",
        ]
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        }

    def __init__(self, *args, pipeline: Pipeline, can_reassign: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.active().filter(pipeline=pipeline)
        _limit_people_and_companies(self, pipeline=pipeline, can_reassign=can_reassign)


class QuickDealForm(forms.ModelForm):
    """The column's "+": the few fields a salesperson has at hand."""

    class Meta:
        model = Deal
        fields = ["title", "company", "value", "currency", "expected_close_date"]
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        }

    def __init__(self, *args, pipeline: Pipeline, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_people_and_companies(self, pipeline=pipeline, can_reassign=False)


def _limit_people_and_companies(form, *, pipeline: Pipeline, can_reassign: bool) -> None:
    if "company" in form.fields:
        form.fields["company"].queryset = Company.objects.filter(team_id=pipeline.team_id)
        form.fields["company"].required = False
        form.fields["company"].empty_label = _("No company")
    if "contact" in form.fields:
        form.fields["contact"].queryset = Contact.objects.filter(
            company__team_id=pipeline.team_id
        ).select_related("company")
        form.fields["contact"].empty_label = _("No contact")
        form.fields["contact"].label_from_instance = lambda c: f"{c.name} ({c.company.name})"
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


def working_days_after(day: date, count: int) -> date:
    """The date `count` working days (Monday to Friday) after `day`."""
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


class ActivityForm(forms.ModelForm):
    """Plan or change a next step: what, who, when. The person responsible is one of the
    pipeline team's members; dates are kept within a sane range."""

    class Meta:
        model = Activity
        fields = ["kind", "subject", "due_date", "due_time", "assignee"]
        labels = {
            "kind": _("Kind"),
            "subject": _("What"),
            "due_date": _("When"),
            "due_time": _("Time (optional)"),
            "assignee": _("Who"),
        }
        widgets = {
            "kind": forms.RadioSelect,
            "due_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "due_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "subject": forms.TextInput(attrs={"placeholder": _("e.g. Call Jens about the budget")}),
        }

    def __init__(self, *args, deal: Deal, acting_user, **kwargs):
        super().__init__(*args, **kwargs)
        people = users_of_team(team_id=deal.pipeline.team_id)
        self.fields["assignee"].queryset = people
        # Left out, the service gives the step to the deal's owner (else the acting user).
        self.fields["assignee"].required = False
        self.fields["assignee"].empty_label = None
        self.fields["subject"].max_length = 200
        if self.instance.pk is None and not self.is_bound:
            self.initial.setdefault("kind", ActivityKind.CALL)
            self.initial.setdefault("assignee", deal.owner_id or acting_user.pk)
            self.initial.setdefault("due_date", working_days_after(timezone.localdate(), 2))

    def clean_due_date(self) -> date:
        due = self.cleaned_data["due_date"]
        unchanged = self.instance.pk is not None and due == self.instance.due_date
        if not unchanged:
            _check_due_date_range(due)
        return due


def _check_due_date_range(due: date) -> None:
    today = timezone.localdate()
    if not today - timedelta(days=365) <= due <= today + timedelta(days=3 * 365):
        raise forms.ValidationError(_("Pick a date within a year back and three years ahead."))


class NextStepForm(forms.Form):
    """The first next step of a new deal, asked beside the deal's own fields (prefix "step"):
    what, when, and who. Who is offered only to those who may reassign, like the owner; left
    empty (or not offered) the step goes to the deal's owner. A date before today (in the
    organisation's time zone) is refused until the user ticks `in_the_past`, so a slip of the
    year does not give a new deal an overdue step. `compact` is the column's quick add: the
    kind as a small select, no time."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=ActivityKind.choices, widget=forms.RadioSelect
    )
    subject = forms.CharField(
        label=_("What"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Call Jens about the budget")}),
    )
    due_date = forms.DateField(
        label=_("When"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    due_time = forms.TimeField(
        label=_("Time (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    assignee = forms.ModelChoiceField(
        label=_("Who"), queryset=User.objects.none(), required=False, empty_label=_("The owner")
    )
    in_the_past = forms.BooleanField(label=_("Yes, it is in the past"), required=False)

    def __init__(
        self, *args, pipeline: Pipeline, can_reassign: bool, compact: bool = False, **kwargs
    ):
        kwargs.setdefault("prefix", "step")
        super().__init__(*args, **kwargs)
        self.in_the_past_asked = False
        if can_reassign:
            self.fields["assignee"].queryset = users_of_team(team_id=pipeline.team_id)
        else:
            del self.fields["assignee"]
        if compact:
            del self.fields["due_time"]
            self.fields["kind"].widget = forms.Select(choices=ActivityKind.choices)
        self.initial.setdefault("kind", ActivityKind.CALL)
        self.initial.setdefault("due_date", working_days_after(timezone.localdate(), 1))

    def clean_due_date(self) -> date:
        due = self.cleaned_data["due_date"]
        _check_due_date_range(due)
        return due

    def clean(self):
        cleaned = super().clean()
        due = cleaned.get("due_date")
        if due is not None and due < timezone.localdate():
            # Asked once the user has seen the date is in the past; kept while it still is.
            self.in_the_past_asked = True
            if not cleaned.get("in_the_past"):
                # Not the date's own error: it goes beside the box to tick.
                self.add_error(
                    None,
                    _(
                        "The next step is dated in the past. Tick “Yes, it is in the past” "
                        "to save it anyway."
                    ),
                )
        return cleaned

    def next_step(self) -> NextStep:
        data = self.cleaned_data
        return NextStep(
            kind=data["kind"],
            subject=data["subject"],
            due_date=data["due_date"],
            due_time=data.get("due_time"),
            assignee=data.get("assignee"),
        )


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
