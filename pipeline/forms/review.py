"""Input for the weekly review page and its in-place actions. Each action form carries the
version of the deal the row was rendered with, so a stale row gets 409 instead of
overwriting someone else's change."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.selectors import users_of_team
from pipeline.forms.activities import ActivityForm
from pipeline.forms.deals import DealLostForm, PauseForm
from pipeline.models import Deal
from pipeline.selectors.review import SECTIONS

VERSION_RANGE = {"min_value": 1, "max_value": 2**31}


def _version_field() -> forms.IntegerField:
    return forms.IntegerField(widget=forms.HiddenInput, **VERSION_RANGE)


class ReviewPageForm(forms.Form):
    """`?team=<id>`: which team's review (the user's first managed team when absent)."""

    team = forms.IntegerField(required=False, min_value=1, max_value=2**62)


class ReviewSectionPageForm(ReviewPageForm):
    """`?team=<id>&page=<n>`: one page of a section's rows (page 1 is the review's own)."""

    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        error_messages={"invalid": _("The page must be a whole number.")},
    )


class SectionForm(forms.Form):
    """Which section a row sits in, so its re-rendered copy keeps its DOM id."""

    section = forms.ChoiceField(choices=[(key, key) for key in SECTIONS])


class VersionForm(forms.Form):
    version = _version_field()


class ReviewNextStepForm(ActivityForm):
    """The next step in a row: what, who, when (the kind as a small select)."""

    version = _version_field()

    class Meta(ActivityForm.Meta):
        fields = ["kind", "subject", "due_date", "assignee"]
        widgets = {
            **ActivityForm.Meta.widgets,
            "kind": forms.Select,
        }


class ReviewOwnerForm(forms.Form):
    """Give the deal to a member of its pipeline's team (or leave it unassigned)."""

    owner = forms.ModelChoiceField(
        queryset=None, required=False, label=_("Owner"), empty_label=_("Unassigned")
    )
    version = _version_field()

    def __init__(self, *args, deal: Deal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = users_of_team(team_id=deal.pipeline.team_id)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class ReviewCloseDateForm(forms.Form):
    """Push the expected close date: a week or a month later, or to a date. Pushes count from
    the current close date, or from today when it has passed or is not set, so "+1 week" on
    an overdue deal lands in the future."""

    PUSHES = (("week", _("+1 week")), ("month", _("+1 month")), ("date", _("To a date")))

    push = forms.ChoiceField(choices=PUSHES, initial="date")
    date = forms.DateField(
        label=_("New close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    version = _version_field()

    def __init__(self, *args, deal: Deal, **kwargs):
        super().__init__(*args, **kwargs)
        self.deal = deal

    def clean(self):
        data = super().clean()
        push = data.get("push")
        today = timezone.localdate()
        start = max(self.deal.expected_close_date or today, today)
        if push == "week":
            data["expected_close_date"] = start + timedelta(weeks=1)
        elif push == "month":
            data["expected_close_date"] = add_months(start, 1)
        elif push == "date":
            day = data.get("date")
            if day is None:
                self.add_error("date", _("Pick the new close date."))
            elif not today <= day <= today + timedelta(days=3 * 365):
                self.add_error("date", _("Pick a date from today to three years ahead."))
            else:
                data["expected_close_date"] = day
        return data


class ReviewPauseForm(PauseForm):
    version = _version_field()


class ReviewLostForm(DealLostForm):
    version = _version_field()


class ReviewMarkForm(forms.Form):
    reviewed = forms.TypedChoiceField(
        choices=(("1", "1"), ("0", "0")), coerce=lambda value: value == "1"
    )
