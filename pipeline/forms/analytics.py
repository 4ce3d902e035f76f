"""Input validation for the analytics pages: the filters in the query string (pipeline, team,
rep, period, basis, tier, product area, sort), each checked against an allow-list of what the
user may see before anything reaches the ORM, and a drill-down cell (stage, rep, outcome).

A pipeline, team or rep the user may not see is refused exactly like one that does not exist
(400, "not one of the choices"). A salesperson (no team managed, not an admin) sees their own
figures only: the rep filter is pinned to them.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.access import access_for
from accounts.selectors import users_visible_to
from crm.models import Tier
from pipeline.forms.visible import VisiblePipelinesMixin, bounded_date
from pipeline.models import Pipeline, ProductArea, Stage
from pipeline.selectors.analytics import AnalyticsFilters

MAX_SPAN_DAYS = 366 * 5
BASIS_CHOICES = [
    ("created", _("Created in the period")),
    ("active", _("Active in the period")),
]
SORT_CHOICES = [
    ("rep", _("Rep")),
    ("win_rate", _("Win rate")),
    ("average_won", _("Average won value")),
    ("cycle", _("Sales cycle")),
    ("velocity", _("Velocity")),
]
OUTCOME_CHOICES = [
    ("", _("Entered the stage")),
    ("lost", _("Lost there")),
    ("here", _("Still there")),
    ("won", _("Won")),
]
UNASSIGNED = "none"


def default_start(today: date) -> date:
    """The first day of the month eleven months back: twelve calendar months to today."""
    month = today.month - 11
    year = today.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


class AnalyticsFilterForm(VisiblePipelinesMixin, forms.Form):
    """`?pipeline=<id>&team=<id>&rep=<id>|none&from=<date>&to=<date>&basis=created|active
    &tier=A|B|C&area=<id>&sort=<key>`; everything optional."""

    pipeline = forms.TypedChoiceField(
        label=_("Pipeline"), coerce=int, required=False, empty_value=None
    )
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, required=False, empty_value=None)
    rep = forms.ChoiceField(label=_("Rep"), required=False)
    start = forms.DateField(label=_("From"), required=False)
    end = forms.DateField(label=_("To"), required=False)
    basis = forms.ChoiceField(label=_("Deals"), choices=BASIS_CHOICES, required=False)
    tier = forms.ChoiceField(
        label=_("Tier"), choices=[("", _("All tiers")), *Tier.choices], required=False
    )
    area = forms.TypedChoiceField(
        label=_("Product area"), coerce=int, required=False, empty_value=None
    )
    sort = forms.ChoiceField(label=_("Sort"), choices=SORT_CHOICES, required=False)

    def __init__(self, data=None, *, user, today: date, **kwargs):
        # "from" and "to" in the query string; Python names them start and end.
        if data is not None:
            data = data.copy()
            for outside, inside in (("from", "start"), ("to", "end")):
                if outside in data:
                    data[inside] = data.pop(outside)[-1]
        super().__init__(data, **kwargs)
        self.user = user
        self.today = today
        self.fields["pipeline"].choices = [("", _("Choose a pipeline"))] + [
            (p.pk, p.name) for p in self.pipelines
        ]
        self.fields["team"].choices = [("", _("All teams"))] + [(t.pk, t.name) for t in self.teams]
        self.fields["rep"].choices = self.rep_choices
        self.fields["area"].choices = [("", _("All product areas"))] + [
            (a.pk, a.name) for a in self.areas
        ]

    @cached_property
    def access(self):
        return access_for(self.user)

    @property
    def sees_team(self) -> bool:
        """Managers and admins see everyone's figures; a salesperson their own."""
        return self.access.is_admin or bool(self.access.managed_team_ids)

    @cached_property
    def reps(self) -> list:
        if not self.sees_team:
            return [self.user]
        return list(users_visible_to(user=self.user))

    @property
    def rep_choices(self) -> list:
        if not self.sees_team:
            return [("", str(self.user)), (str(self.user.pk), str(self.user))]
        return [("", _("All reps")), (UNASSIGNED, _("Unassigned"))] + [
            (str(u.pk), str(u)) for u in self.reps
        ]

    @cached_property
    def areas(self) -> list[ProductArea]:
        return list(ProductArea.objects.order_by("position", "name"))

    def clean_start(self):
        return bounded_date(self.cleaned_data.get("start"))

    def clean_end(self):
        return bounded_date(self.cleaned_data.get("end"))

    def clean(self):
        data = super().clean()
        end = data.get("end") or self.today
        start = data.get("start") or default_start(end)
        if start > end:
            self.add_error("start", _("The period must start before it ends."))
        elif (end - start).days > MAX_SPAN_DAYS:
            self.add_error("start", _("Pick a period of at most five years."))
        data["start"], data["end"] = start, end
        data["basis"] = data.get("basis") or "created"
        data["sort"] = data.get("sort") or "rep"
        return data

    @property
    def chosen_pipeline(self) -> Pipeline | None:
        """The chosen pipeline, else the first active one the user sees."""
        chosen = self.cleaned_data.get("pipeline")
        if chosen:
            return next(p for p in self.pipelines if p.pk == chosen)
        active = [p for p in self.pipelines if not p.is_archived]
        return (active or self.pipelines or [None])[0]

    def filters(self, *, pipeline: Pipeline | None = None) -> AnalyticsFilters:
        data = self.cleaned_data
        rep = data.get("rep") or ""
        owner_id = int(rep) if rep.isdigit() else None
        if not self.sees_team:
            owner_id = self.user.pk
        return AnalyticsFilters(
            start=data["start"],
            end=data["end"],
            basis=data["basis"],
            pipeline_id=pipeline.pk if pipeline else data.get("pipeline"),
            team_id=data.get("team"),
            owner_id=owner_id,
            unassigned=rep == UNASSIGNED and self.sees_team,
            tier=data.get("tier") or None,
            product_area_id=data.get("area"),
        )

    def params(self, **changes) -> dict[str, str]:
        """The validated filters as query parameters, defaults left out; `changes` override
        (None removes a parameter)."""
        data = self.cleaned_data
        values = {
            "pipeline": data.get("pipeline"),
            "team": data.get("team"),
            "rep": data.get("rep"),
            "from": data["start"].isoformat() if self.data.get("start") else None,
            "to": data["end"].isoformat() if self.data.get("end") else None,
            "basis": data["basis"] if data["basis"] != "created" else None,
            "tier": data.get("tier"),
            "area": data.get("area"),
            "sort": data["sort"] if data["sort"] != "rep" else None,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def query(self, **changes) -> str:
        return urlencode(self.params(**changes))


class DrillDownForm(forms.Form):
    """One cell: `?stage=<id>&cell_rep=<id>|none&outcome=lost|here|won` on top of the filters.
    The stage must belong to the chosen pipeline; the rep must be one the user may see."""

    stage = forms.IntegerField(label=_("Stage"), min_value=1, max_value=2**62)
    cell_rep = forms.CharField(label=_("Rep"), required=False, max_length=20)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=OUTCOME_CHOICES, required=False)

    def __init__(self, data=None, *, filter_form: AnalyticsFilterForm, **kwargs):
        super().__init__(data, **kwargs)
        self.filter_form = filter_form

    def clean_stage(self) -> Stage:
        pipeline = self.filter_form.chosen_pipeline
        stage = (
            Stage.objects.filter(pk=self.cleaned_data["stage"], pipeline=pipeline).first()
            if pipeline
            else None
        )
        if stage is None:
            raise forms.ValidationError(_("That stage is not one of the choices."))
        return stage

    def clean_cell_rep(self):
        value = self.cleaned_data["cell_rep"]
        allowed = {str(u.pk) for u in self.filter_form.reps}
        if self.filter_form.sees_team:
            allowed.add(UNASSIGNED)
        if value and value not in allowed:
            raise forms.ValidationError(_("That rep is not one of the choices."))
        return value
