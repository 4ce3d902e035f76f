"""Reads for the managers' clean-up list: open deals past their pipeline's qualification stage
that still lack one of the three qualification facts (decision maker known, timeline
confirmed, need confirmed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404

from accounts.access import access_for
from accounts.models import User
from pipeline.models import Deal, DealStatus, Pipeline, Stage

# The facts, in the order the list shows them: (field, label key for the template).
FACTS = ("need_confirmed", "decision_maker_known", "timeline_confirmed")
CLEANUP_LIMIT = 200


def cleanup_access(*, user: User) -> None:
    """The door to the clean-up list: managers (of any team) and admins; 403 otherwise."""
    access = access_for(user)
    if not (access.is_admin or access.managed_team_ids):
        raise PermissionDenied


def cleanup_pipelines_for_user(*, user: User):
    """The active pipelines whose deals the user manages, with a qualification stage set."""
    access = access_for(user)
    qs = (
        Pipeline.objects.visible_to(user)
        .active()
        .filter(qualified_after_stage__isnull=False)
        .select_related("team", "qualified_after_stage")
    )
    if not access.is_admin:
        qs = qs.filter(team_id__in=access.managed_team_ids)
    return qs


def _lacking_a_fact() -> Q:
    return Q(need_confirmed=False) | Q(decision_maker_known=False) | Q(timeline_confirmed=False)


def cleanup_deals(*, user: User, pipelines: list[Pipeline]):
    """Open deals of `pipelines` in a stage after the pipeline's qualification stage and
    lacking a fact, visible to the user, ordered by pipeline then stage then column."""
    return (
        Deal.objects.visible_to(user)
        .filter(
            pipeline_id__in=[p.pk for p in pipelines],
            status=DealStatus.OPEN,
            stage__position__gt=F("pipeline__qualified_after_stage__position"),
        )
        .filter(_lacking_a_fact())
        .select_related("stage", "owner", "company")
        .order_by(
            "pipeline__position",
            "pipeline__name",
            "pipeline_id",
            "stage__position",
            "position",
            "pk",
        )
    )


@dataclass
class CleanupSection:
    pipeline: Pipeline
    rows: list[Deal] = field(default_factory=list)


@dataclass
class Cleanup:
    sections: list[CleanupSection]
    total: int
    shown: int

    @property
    def more(self) -> int:
        return self.total - self.shown


def _attach_previous_stages(deals: list[Deal], pipeline_ids: list[int]) -> None:
    """Each row's "move back" target, from one query of the pipelines' stages: the active
    stage before the deal's, as `services.deal_move_back` decides it."""
    by_pipeline: dict[int, list[Stage]] = {}
    for stage in (
        Stage.objects.active().filter(pipeline_id__in=pipeline_ids).order_by("position", "pk")
    ):
        by_pipeline.setdefault(stage.pipeline_id, []).append(stage)
    for deal in deals:
        stages = by_pipeline.get(deal.pipeline_id, [])
        index = next((i for i, s in enumerate(stages) if s.pk == deal.stage_id), 0)
        deal.previous_stage = stages[index - 1] if index > 0 else None


def _decorate(deals: list[Deal]) -> None:
    for deal in deals:
        deal.missing_facts = [name for name in FACTS if not getattr(deal, name)]


def cleanup_for_user(*, user: User) -> Cleanup:
    """The clean-up list: one section per pipeline with a qualification stage, in a fixed
    number of queries (pipelines, the count, the rows, the stages)."""
    pipelines = list(cleanup_pipelines_for_user(user=user))
    if not pipelines:
        return Cleanup(sections=[], total=0, shown=0)
    qs = cleanup_deals(user=user, pipelines=pipelines)
    total = qs.count()
    deals = list(qs[:CLEANUP_LIMIT])
    _attach_previous_stages(deals, [p.pk for p in pipelines])
    _decorate(deals)
    sections = {p.pk: CleanupSection(pipeline=p) for p in pipelines}
    for deal in deals:
        deal.pipeline = sections[deal.pipeline_id].pipeline
        sections[deal.pipeline_id].rows.append(deal)
    return Cleanup(sections=list(sections.values()), total=total, shown=len(deals))


def cleanup_row(*, user: User, pk: int) -> Deal:
    """One deal as its clean-up row shows it (after an action), through the access door."""
    deal = (
        Deal.objects.visible_to(user)
        .select_related("pipeline", "pipeline__qualified_after_stage", "stage", "owner", "company")
        .filter(pk=pk)
        .first()
    )
    if deal is None:
        raise Http404
    _attach_previous_stages([deal], [deal.pipeline_id])
    _decorate([deal])
    qualified = deal.pipeline.qualified_after_stage
    deal.on_list = (
        deal.status == DealStatus.OPEN
        and qualified is not None
        and deal.stage.position > qualified.position
        and bool(deal.missing_facts)
    )
    return deal
