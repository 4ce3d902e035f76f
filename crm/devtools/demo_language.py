"""The demo organisation in another language (`seed_demo --language da`).

The seeder (crm/devtools/demo.py, which lists its texts in `demo_texts()`) writes its texts
in English, the source language, and finds its own rows again by those names (a second run
adds nothing). `demo_translate(language, texts)` then renames, set-based,
every demo text it wrote to its translation in `language` (the catalogues' `gettext`; every
text is marked with `gettext_noop` where it is defined): pipelines, stages, exit criteria,
follow-up routines, activities and next steps, pause reasons, lost reasons and notes, product
areas, the lead form. `demo_untranslate(language)` turns them back into English first, so a
second run in the same language finds its rows. Team and people's names stay as they are.
"""

from __future__ import annotations

from django.db.models import Case, F, Value, When
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as N_

from pipeline.models import (
    Activity,
    Deal,
    ExitCriterion,
    FollowUpRoutine,
    LeadForm,
    LostReason,
    Pipeline,
    ProductArea,
    Stage,
)

# The lost reasons every install starts with (pipeline migration 0002).
DEFAULT_LOST_REASONS = [
    N_("Price too high"),
    N_("Chose a competitor"),
    N_("No budget"),
    N_("No decision / went quiet"),
    N_("Timing: not now"),
    N_("Missing feature or fit"),
    N_("Lost the champion"),
    N_("Disqualified"),
]

# Where the demo's texts are: (model, field).
FIELDS = [
    (Pipeline, "name"),
    (Stage, "name"),
    (ExitCriterion, "text"),
    (FollowUpRoutine, "subject"),
    (Activity, "subject"),
    (Activity, "note"),
    (Deal, "next_step_subject"),
    (Deal, "pause_reason"),
    (Deal, "lost_note"),
    (LostReason, "name"),
    (ProductArea, "name"),
    (LeadForm, "name"),
]


def _mapping(language: str, texts: list[str]) -> dict[str, str]:
    with translation.override(language):
        pairs = {text: gettext(text) for text in texts}
    return {source: target for source, target in pairs.items() if source != target}


def _rename(mapping: dict[str, str]) -> int:
    """One UPDATE per field: every row whose text is a key of `mapping` gets its value."""
    if not mapping:
        return 0
    changed = 0
    for model, field in FIELDS:
        model_field = model._meta.get_field(field)
        limit = model_field.max_length
        whens = [When(**{field: old}, then=Value(new[:limit])) for old, new in mapping.items()]
        changed += model.objects.filter(**{f"{field}__in": list(mapping)}).update(
            **{field: Case(*whens, default=F(field), output_field=model_field)}
        )
    return changed


def demo_translate(language: str, texts: list[str]) -> int:
    """Rename the demo's English `texts` to `language`; returns how many rows changed."""
    return _rename(_mapping(language, texts))


def demo_untranslate(language: str, texts: list[str]) -> int:
    """Undo `demo_translate(language)` (before a second run finds its rows by name)."""
    return _rename({target: source for source, target in _mapping(language, texts).items()})
