"""Input validation for the settings pages: names 1-100 characters, probability 0-100 %,
rot days 1-3650, exit criteria 1-120 characters, follow-up routines (1-200 characters, a kind
of activity, 0-60 working days), orders as lists of ids."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from pipeline.models import ROUTINE_MAX_DAYS, ActivityKind, Pipeline, Stage

MAX_ID = 2**62
MAX_ORDER = 500


class NameField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Name"))
        super().__init__(max_length=100, min_length=1, strip=True, **kwargs)


class PipelineCreateForm(forms.Form):
    name = NameField(
        widget=forms.TextInput(attrs={"placeholder": _("e.g. New business"), "maxlength": 100})
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), label=_("Team"), empty_label=None
    )
    standard_stages = forms.BooleanField(
        label=_("Start with the standard stages (Lead in, Qualified, Proposal made, Negotiation)"),
        required=False,
        initial=True,
    )


class PipelineForm(forms.Form):
    name = NameField()
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), label=_("Team"), empty_label=None
    )
    qualified_after_stage = forms.ModelChoiceField(
        queryset=Stage.objects.none(),
        label=_("Qualification required after stage"),
        required=False,
        empty_label=_("Not required"),
        help_text=_(
            "Open deals past this stage should have the need, the decision maker and the "
            "timeline confirmed; managers see those that do not."
        ),
    )

    def __init__(self, *args, pipeline: Pipeline, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["qualified_after_stage"].queryset = pipeline.stages.active().order_by(
            "position", "pk"
        )


class StageForm(forms.Form):
    name = NameField(widget=forms.TextInput(attrs={"maxlength": 100}))
    probability = forms.IntegerField(
        label=_("Probability (%)"), min_value=0, max_value=100, initial=10
    )
    rot_days = forms.IntegerField(
        label=_("Rot days"),
        min_value=1,
        max_value=3650,
        initial=14,
        help_text=_("A deal without movement for longer than this is stale."),
    )


class ExitCriterionForm(forms.Form):
    text = forms.CharField(
        label=_("Customer event"),
        max_length=120,
        min_length=1,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "placeholder": _("e.g. Customer confirmed the budget"),
                "maxlength": 120,
                "aria-label": _("Customer event"),
            }
        ),
    )
    is_required = forms.TypedChoiceField(
        label=_("Kind"),
        choices=[("1", _("Required")), ("0", _("Advisory"))],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.Select(attrs={"aria-label": _("Kind")}),
    )


class RoutineForm(forms.Form):
    """A new follow-up routine: what to do, which kind of activity, how many working days
    after a deal enters the stage."""

    subject = forms.CharField(
        label=_("What to do"),
        max_length=200,
        min_length=1,
        strip=True,
        error_messages={
            "required": _("Say what to do, e.g. “Send a follow-up”."),
            "max_length": _("Keep “what to do” to 200 characters."),
        },
        widget=forms.TextInput(
            attrs={
                "placeholder": _("e.g. Send a follow-up on the proposal"),
                "maxlength": 200,
                "aria-label": _("What to do"),
            }
        ),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=ActivityKind.choices,
        initial=ActivityKind.TASK,
        error_messages={"invalid_choice": _("Pick a call, meeting, email or task.")},
        widget=forms.Select(attrs={"aria-label": _("Kind of activity")}),
    )
    due_in_days = forms.IntegerField(
        label=_("Working days after entering"),
        min_value=0,
        max_value=ROUTINE_MAX_DAYS,
        initial=1,
        error_messages={
            "required": _("Say after how many working days it is due (0 to 60)."),
            "invalid": _("The working days must be a whole number from 0 to 60."),
            "min_value": _("The working days must be a whole number from 0 to 60."),
            "max_value": _("The working days must be a whole number from 0 to 60."),
        },
        widget=forms.NumberInput(
            attrs={
                "min": 0,
                "max": ROUTINE_MAX_DAYS,
                "aria-label": _("Working days after entering"),
            }
        ),
    )


class RoutineUpdateForm(RoutineForm):
    """A routine changed, or switched off and on."""

    is_active = forms.BooleanField(label=_("Active"), required=False)


class DirectionForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", _("Up")), ("down", _("Down"))])


class OrderForm(forms.Form):
    """The whole new order of a list, as repeated `order` ids (a drag sends all of them)."""

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.raw_order = data.getlist("order") if data is not None else []

    def clean(self):
        ids = []
        if not self.raw_order or len(self.raw_order) > MAX_ORDER:
            raise forms.ValidationError(_("The new order was missing."))
        for value in self.raw_order:
            if not value.isdigit() or not 0 < int(value) < MAX_ID:
                raise forms.ValidationError(_("The new order was not understood."))
            ids.append(int(value))
        self.cleaned_data["order"] = ids
        return self.cleaned_data


class StageRemoveForm(forms.Form):
    move_deals_to = forms.ModelChoiceField(
        queryset=Stage.objects.none(),
        label=_("Move its deals to"),
        required=False,
        empty_label=_("Choose a stage"),
    )

    def __init__(self, *args, targets, needs_target: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["move_deals_to"].queryset = targets
        self.fields["move_deals_to"].required = needs_target


class ListEntryForm(forms.Form):
    """A lost reason or a product area: just its name."""

    name = NameField(widget=forms.TextInput(attrs={"maxlength": 100}))
