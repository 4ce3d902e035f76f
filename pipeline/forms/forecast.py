"""Input validation for the forecast pages: the filters in the query string (checked against
allow-lists of what the user may see before anything reaches the ORM), a drill-down cell, a
rep's target and a stage calibration "apply".

A pipeline, team or rep the user may not see is refused exactly like one that does not exist
(400, "not one of the choices"): the answer tells nothing about other teams.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.http import QueryDict
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.selectors import users_visible_to
from crm.forms.fields import LocalDecimalField
from pipeline.forecasting import DEFAULT_COUNTS, KINDS, MAX_COUNTS, period_start
from pipeline.forms.visible import VisiblePipelinesMixin, bounded_date
from pipeline.models import PeriodKind, Stage
from pipeline.selectors.forecast import ForecastFilters

# The page says "rep"; the selectors group by the deal's owner.
GROUPS = {"rep": "owner", "stage": "stage", "pipeline": "pipeline", "team": "team"}
GROUP_CHOICES = [
    ("rep", _("Rep")),
    ("stage", _("Stage")),
    ("pipeline", _("Pipeline")),
    ("team", _("Team")),
]
# The page's own query string travels with a target form so the plain path can go back to it.
MAX_QUERY_LENGTH = 500


class ForecastFilterForm(VisiblePipelinesMixin, forms.Form):
    """`?period=week|month|quarter&range=13&start=2026-01-01&group=rep|stage|pipeline|team
    &pipeline=<id>&team=<id>&rep=<id>`; everything optional. Pipelines, teams and reps are
    limited to what the user may see (two queries: visible pipelines with their teams, and
    the people of those teams)."""

    period = forms.ChoiceField(label=_("Period"), choices=PeriodKind.choices, required=False)
    range = forms.IntegerField(
        label=_("Periods"), required=False, min_value=1, max_value=max(MAX_COUNTS.values())
    )
    start = forms.DateField(label=_("From"), required=False)
    group = forms.ChoiceField(label=_("Group by"), choices=GROUP_CHOICES, required=False)
    pipeline = forms.TypedChoiceField(
        label=_("Pipeline"), coerce=int, required=False, empty_value=None
    )
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, required=False, empty_value=None)
    rep = forms.TypedChoiceField(label=_("Rep"), coerce=int, required=False, empty_value=None)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["pipeline"].choices = [("", _("All pipelines"))] + [
            (p.pk, p.name) for p in self.pipelines
        ]
        self.fields["team"].choices = [("", _("All teams"))] + [(t.pk, t.name) for t in self.teams]
        self.fields["rep"].choices = [("", _("All reps"))] + [(u.pk, str(u)) for u in self.reps]

    @cached_property
    def reps(self) -> list:
        return list(users_visible_to(user=self.user))

    def clean_start(self):
        return bounded_date(self.cleaned_data.get("start"))

    def clean(self):
        data = super().clean()
        kind = data.get("period") or "month"
        data["period"] = kind
        data["group"] = data.get("group") or "rep"
        count = data.get("range")
        if count is not None and count > MAX_COUNTS[kind]:
            self.add_error(
                "range",
                _("Show at most %(max)s periods of this kind.") % {"max": MAX_COUNTS[kind]},
            )
        return data

    @property
    def kind(self) -> str:
        return self.cleaned_data["period"]

    @property
    def count(self) -> int:
        return self.cleaned_data.get("range") or DEFAULT_COUNTS[self.kind]

    def filters(self) -> ForecastFilters:
        data = self.cleaned_data
        return ForecastFilters(
            kind=self.kind,
            start=data.get("start"),
            count=self.count,
            group=GROUPS[data["group"]],
            pipeline_id=data.get("pipeline"),
            team_id=data.get("team"),
            owner_id=data.get("rep"),
        )

    def params(self, **changes) -> dict[str, str]:
        """The validated filters as query parameters, defaults left out; `changes` override
        (None removes a parameter)."""
        data = self.cleaned_data
        values = {
            "period": data["period"] if data["period"] != "month" else None,
            "range": data.get("range"),
            "start": data["start"].isoformat() if data.get("start") else None,
            "group": data["group"] if data["group"] != "rep" else None,
            "pipeline": data.get("pipeline"),
            "team": data.get("team"),
            "rep": data.get("rep"),
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def query(self, **changes) -> str:
        return urlencode(self.params(**changes))

    @property
    def range_choices(self) -> list[int]:
        """Ranges offered in the select for the current kind (any other valid one is kept)."""
        presets = {"week": [4, 8, 13, 26, 52], "month": [3, 6, 12, 18, 24], "quarter": [2, 4, 6, 8]}
        return sorted(set(presets[self.kind]) | {self.count})


def filter_form_from_query(query: str, *, user) -> ForecastFilterForm:
    """A filter form for a query string carried in a POST (the page the user came from)."""
    return ForecastFilterForm(QueryDict(query[:MAX_QUERY_LENGTH]), user=user)


class ForecastCellForm(forms.Form):
    """One cell of the table: `?cell=<first day of the period>&row=<id or "none">&won=1` on
    top of the page's filters. The row must be one the user may see for the grouping."""

    cell = forms.DateField(label=_("Period"))
    row = forms.CharField(label=_("Row"), max_length=20)
    won = forms.BooleanField(label=_("Won"), required=False)

    def __init__(self, data=None, *, filter_form: ForecastFilterForm, **kwargs):
        super().__init__(data, **kwargs)
        self.filter_form = filter_form

    def clean_cell(self):
        day = bounded_date(self.cleaned_data["cell"])
        return period_start(day, self.filter_form.kind)

    def clean_row(self) -> int | None:
        row = self.cleaned_data["row"]
        group = self.filter_form.cleaned_data["group"]
        if row == "none" and group == "rep":
            self.row_label = _("Unassigned")
            return None
        allowed = self._allowed(group)
        if row.isdigit() and int(row) in allowed:
            self.row_label = allowed[int(row)]
            return int(row)
        raise forms.ValidationError(_("That row is not one of the choices."))

    def _allowed(self, group: str) -> dict[int, str]:
        """Row keys the user may see for the grouping, with their labels."""
        form = self.filter_form
        if group == "rep":
            return {u.pk: str(u) for u in form.reps}
        if group == "pipeline":
            return {p.pk: p.name for p in form.pipelines}
        if group == "team":
            return {t.pk: t.name for t in form.teams}
        stages = Stage.objects.filter(pipeline__in=[p.pk for p in form.pipelines])
        return {
            pk: f"{name} ({pipeline})"
            for pk, name, pipeline in stages.values_list("pk", "name", "pipeline__name")
        }


class SalesTargetForm(forms.Form):
    """A rep's target for one period; an empty amount removes it."""

    rep = forms.IntegerField(min_value=1, max_value=2**62)
    period = forms.ChoiceField(choices=PeriodKind.choices)
    start = forms.DateField()
    amount = LocalDecimalField(
        label=_("Target"),
        required=False,
        min_value=0,
        max_digits=16,
        decimal_places=2,
    )
    query = forms.CharField(required=False, max_length=MAX_QUERY_LENGTH)

    def clean_start(self):
        return bounded_date(self.cleaned_data["start"])

    def clean(self):
        data = super().clean()
        if data.get("period") in KINDS and data.get("start"):
            data["start"] = period_start(data["start"], data["period"])
        return data


class ProbabilityForm(forms.Form):
    probability = forms.IntegerField(label=_("Win probability (%)"), min_value=0, max_value=100)
