"""The board's filters and a column's next page."""

from __future__ import annotations

from django import forms
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.selectors import people_of_team
from crm.forms import tier_filter_field
from pipeline.models import (
    Pipeline,
)
from pipeline.selectors.board import BoardFilters

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
        return people_of_team(team_id=self.pipeline.team_id)

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
