"""What the analytics and forecast filter forms share: the pipelines the user may see (one
query, with their teams), those pipelines' teams (no query of their own), and the calendar
bounds every filter date is held to."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from pipeline.models import Pipeline

# Far enough for any plan, near enough that adding periods never leaves the calendar.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


def bounded_date(value: date | None) -> date | None:
    """The date, or a ValidationError when it lies outside EARLIEST..LATEST."""
    if value is not None and not EARLIEST <= value <= LATEST:
        raise forms.ValidationError(
            _("Pick a date between %(first)s and %(last)s."),
            params={"first": EARLIEST.year, "last": LATEST.year},
        )
    return value


class VisiblePipelinesMixin:
    """For a form with `self.user`: the pipelines it may see and their teams."""

    @cached_property
    def pipelines(self) -> list[Pipeline]:
        return list(
            Pipeline.objects.visible_to(self.user)
            .select_related("team")
            .order_by("is_archived", "position", "name", "pk")
        )

    @property
    def teams(self) -> list:
        """The teams of the visible pipelines (no query of its own)."""
        teams = {p.team_id: p.team for p in self.pipelines}
        return sorted(teams.values(), key=lambda t: (t.name, t.pk))
