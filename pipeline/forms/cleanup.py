"""Input for the managers' clean-up list and its in-place actions. Each carries the version
the row was rendered with, so a stale row gets 409 instead of overwriting a newer change."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from pipeline.forms.review import ReviewPauseForm, VersionForm
from pipeline.selectors.cleanup import FACTS

FACT_LABELS = {
    "need_confirmed": _("Need confirmed"),
    "decision_maker_known": _("Decision maker known"),
    "timeline_confirmed": _("Timeline confirmed"),
}


class CleanupFactForm(VersionForm):
    """Tick one qualification fact on a deal."""

    fact = forms.ChoiceField(choices=[(name, FACT_LABELS[name]) for name in FACTS])


class CleanupPauseForm(ReviewPauseForm):
    pass


__all__ = ["FACT_LABELS", "CleanupFactForm", "CleanupPauseForm", "VersionForm"]
