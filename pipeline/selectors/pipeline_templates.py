"""The pipeline templates for a picker (set-up, and settings' "New pipeline from template").

The catalogue is data in code (`pipeline.catalogue`); this reads it in the active language.
No access check: the texts are the product's own, the same for everyone; the views that
offer them pass their own door (settings: admins only), and creating from one is the
service's business."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.catalogue import TEMPLATES, PipelineTemplate, template_by_key
from pipeline.models import ActivityKind


@dataclass(frozen=True)
class CriterionSummary:
    text: str
    is_required: bool


@dataclass(frozen=True)
class RoutineSummary:
    subject: str
    kind: str  # an ActivityKind value
    kind_label: str
    due_in_days: int


@dataclass(frozen=True)
class StageSummary:
    name: str
    probability: int
    rot_days: int
    criteria: tuple[CriterionSummary, ...]
    routines: tuple[RoutineSummary, ...]


@dataclass(frozen=True)
class TemplateSummary:
    """One template as the picker shows it, every text in the active language."""

    key: str
    name: str
    description: str
    stages: tuple[StageSummary, ...]

    @property
    def stage_count(self) -> int:
        return len(self.stages)


def _summary(template: PipelineTemplate) -> TemplateSummary:
    kinds = dict(ActivityKind.choices)
    return TemplateSummary(
        key=template.key,
        name=str(template.name),
        description=str(template.description),
        stages=tuple(
            StageSummary(
                name=str(stage.name),
                probability=stage.probability,
                rot_days=stage.rot_days,
                criteria=tuple(
                    CriterionSummary(text=str(c.text), is_required=c.is_required)
                    for c in stage.criteria
                ),
                routines=tuple(
                    RoutineSummary(
                        subject=str(r.subject),
                        kind=str(r.kind),
                        kind_label=str(kinds[r.kind]),
                        due_in_days=r.due_in_days,
                    )
                    for r in stage.routines
                ),
            )
            for stage in template.stages
        ),
    )


def template_list() -> list[TemplateSummary]:
    """Every pipeline template, in the picker's order: key, name, description and its stages
    (probability, rot days, exit criteria, follow-up routines). No query."""
    return [_summary(template) for template in TEMPLATES]


def template_get(key: str) -> TemplateSummary | None:
    """One template by key (None for an unknown key). No query."""
    template = template_by_key(key)
    return _summary(template) if template else None
