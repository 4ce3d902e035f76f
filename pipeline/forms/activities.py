"""Activities and a new deal's first next step."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import users_of_team
from pipeline.models import (
    Activity,
    ActivityKind,
    Deal,
    Pipeline,
)
from pipeline.services.activities import NextStep


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
            check_due_date_range(due)
        return due


def check_due_date_range(due: date) -> None:
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
        check_due_date_range(due)
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
