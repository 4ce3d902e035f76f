"""Input of "New pipeline from template": which template, which team, and a name (optional:
the template's name in the active language)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from pipeline.selectors.pipeline_templates import template_list


class PipelineFromTemplateForm(forms.Form):
    template = forms.ChoiceField(
        label=_("Template"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Pick a template."),
            "invalid_choice": _("Pick one of the pipeline templates offered."),
        },
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        label=_("Team"),
        empty_label=None,
        error_messages={"invalid_choice": _("Pick one of the teams offered.")},
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        strip=True,
        help_text=_("Leave empty to use the template's name."),
        widget=forms.TextInput(attrs={"maxlength": 100}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The labels in the language of this request.
        self.fields["template"].choices = [(t.key, t.name) for t in template_list()]
