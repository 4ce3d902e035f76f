"""Reads for the settings pages, and their object doors.

Every door first checks `settings_access` (admins only, 403 for anyone else), then answers
404 for an id that does not exist (or a stage that was removed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.models import Team, User
from accounts.selectors import settings_access
from crm.collation import by_name
from pipeline.models import (
    AdminListEntry,
    Deal,
    DealStatus,
    ExitCriterion,
    FollowUpRoutine,
    Pipeline,
    Stage,
)


def _count(queryset: QuerySet, outer: str) -> Coalesce:
    """A correlated count (a subquery per row, so two counts never multiply each other)."""
    counted = (
        queryset.filter(**{outer: OuterRef("pk")})
        .order_by()
        .values(outer)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def pipelines_for_settings(*, user: User) -> QuerySet[Pipeline]:
    """Every pipeline (archived last) with its team, active stage count and deal counts."""
    settings_access(user=user)
    return (
        Pipeline.objects.select_related("team")
        .annotate(
            stage_count=_count(Stage.objects.active(), "pipeline"),
            open_count=_count(Deal.objects.filter(status=DealStatus.OPEN), "pipeline"),
            deal_count=_count(Deal.objects.all(), "pipeline"),
        )
        .order_by("is_archived", "position", "name", "pk")
    )


def pipeline_get_for_settings(*, user: User, pk: int) -> Pipeline:
    settings_access(user=user)
    pipeline = Pipeline.objects.select_related("team").filter(pk=pk).first()
    if pipeline is None:
        raise Http404
    return pipeline


def stages_for_settings(*, pipeline: Pipeline) -> list[Stage]:
    """The pipeline's active stages in board order, each with how many deals it holds (any
    status), how many are open, its criteria counts and its active routines. One query."""
    return list(
        pipeline.stages.active()
        .annotate(
            deal_count=_count(Deal.objects.all(), "stage"),
            open_count=_count(Deal.objects.filter(status=DealStatus.OPEN), "stage"),
            criteria_count=_count(ExitCriterion.objects.all(), "stage"),
            required_count=_count(ExitCriterion.objects.filter(is_required=True), "stage"),
            routine_count=_count(FollowUpRoutine.objects.filter(is_active=True), "stage"),
        )
        .order_by("position", "pk")
    )


@dataclass(frozen=True)
class ProbabilityInversion:
    """A stage whose win probability is lower than that of a stage before it on the board."""

    stage: Stage
    earlier: Stage  # the stage before it with the highest probability (the first, on a tie)


def probability_inversions(*, stages: Sequence[Stage]) -> list[ProbabilityInversion]:
    """The stages, in board order, whose probability is below the highest one before them
    ("Negotiation 70 % comes after Proposal 75 %"). `stages` are one pipeline's active stages
    in board order (`stages_for_settings`); no query.

    Such an order is allowed (a team may mean it), but it makes the weighted forecast fall as
    deals move forward, so the settings page warns about it.
    """
    inversions = []
    highest: Stage | None = None
    for stage in stages:
        if highest is not None and stage.probability < highest.probability:
            inversions.append(ProbabilityInversion(stage=stage, earlier=highest))
        if highest is None or stage.probability > highest.probability:
            highest = stage
    return inversions


def stage_get_for_settings(*, user: User, pk: int) -> Stage:
    """An active stage with its pipeline, its exit criteria and its follow-up routines in
    order; 404 when it does not exist or was removed."""
    settings_access(user=user)
    stage = (
        Stage.objects.active()
        .select_related("pipeline", "pipeline__team")
        .prefetch_related(
            Prefetch("exit_criteria", queryset=ExitCriterion.objects.order_by("position", "pk")),
            Prefetch("routines", queryset=FollowUpRoutine.objects.order_by("position", "pk")),
        )
        .filter(pk=pk)
        .first()
    )
    if stage is None:
        raise Http404
    return stage


def stage_with_counts(*, stage: Stage) -> Stage:
    """The stage annotated like a row of `stages_for_settings` (for one re-rendered row)."""
    return next(s for s in stages_for_settings(pipeline=stage.pipeline) if s.pk == stage.pk)


def stage_row_with_inversions(*, stage: Stage) -> tuple[Stage, list[ProbabilityInversion]]:
    """`stage_with_counts` and the pipeline's `probability_inversions`, from one query (the
    row re-rendered after a save, with the warning that save may have changed)."""
    stages = stages_for_settings(pipeline=stage.pipeline)
    row = next(s for s in stages if s.pk == stage.pk)
    return row, probability_inversions(stages=stages)


def criterion_get_for_settings(*, user: User, pk: int) -> ExitCriterion:
    settings_access(user=user)
    criterion = (
        ExitCriterion.objects.select_related("stage", "stage__pipeline")
        .filter(pk=pk, stage__is_archived=False)
        .first()
    )
    if criterion is None:
        raise Http404
    return criterion


def routine_get_for_settings(*, user: User, pk: int) -> FollowUpRoutine:
    """A follow-up routine of an active stage; 404 otherwise."""
    settings_access(user=user)
    routine = (
        FollowUpRoutine.objects.select_related("stage", "stage__pipeline")
        .filter(pk=pk, stage__is_archived=False)
        .first()
    )
    if routine is None:
        raise Http404
    return routine


def teams_for_settings() -> QuerySet[Team]:
    return Team.objects.order_by(*by_name("name"))


def removal_targets(*, stage: Stage) -> QuerySet[Stage]:
    """The stages a removed stage's deals may move to: the other active stages of its
    pipeline."""
    return stage.pipeline.stages.active().exclude(pk=stage.pk).order_by("position", "pk")


# --- lost reasons and product areas ---------------------------------------------------------


def admin_list_for_settings(*, user: User, model: type[AdminListEntry]) -> list[AdminListEntry]:
    """Every entry of an admin-managed list (retired too) in order, with how many deals have
    it (lost reasons: deals lost for it; product areas: deals about it)."""
    settings_access(user=user)
    entries = model.objects.annotate(deal_count=Count("deals"))
    return list(entries.order_by("position", "name", "pk"))


def admin_list_entry_get_for_settings(
    *, user: User, model: type[AdminListEntry], pk: int
) -> AdminListEntry:
    settings_access(user=user)
    entry = model.objects.filter(pk=pk).first()
    if entry is None:
        raise Http404
    return entry
