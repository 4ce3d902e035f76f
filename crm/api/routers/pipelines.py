"""/pipelines and /stages: everyone reads the pipelines and stages they can see (with the
exit criteria); admins add and change them (settings)."""

from __future__ import annotations

from django.http import Http404
from ninja import Field, Query, Router, Status

from accounts.selectors import settings_access, teams_for_user
from crm.api.lookups import body_record, sent
from crm.api.pagination import keyset_page, parse_int
from crm.api.schemas.common import CREATE, LIST, READ, WRITE, Id, PageQuery
from crm.api.schemas.pipelines import (
    PipelineChange,
    PipelineCreate,
    PipelineOut,
    PipelinePage,
    StageChange,
    StageCreate,
    StageOut,
    StagePage,
)
from pipeline import selectors, services

router = Router(tags=["pipelines and stages"])


class PipelineQuery(PageQuery):
    include_archived: bool = Field(False, description="true: archived pipelines too.")


class StageQuery(PageQuery):
    pipeline: Id | None = None


def _pipeline(user, pk: int):
    pipeline = selectors.pipelines_with_stages_for_user(user=user, include_archived=True)
    found = pipeline.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


@router.get("/pipelines", response={200: PipelinePage, **LIST}, summary="List pipelines")
def pipeline_list(request, query: Query[PipelineQuery]):
    """The pipelines of the user's teams (all for an admin), each with its stages in board
    order."""
    pipelines = selectors.pipelines_with_stages_for_user(
        user=request.user, include_archived=query.include_archived
    )
    rows, cursor = keyset_page(
        pipelines, order="id", fields={"id": parse_int}, limit=query.limit, cursor=query.cursor
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/pipelines/{pipeline_id}", response={200: PipelineOut, **READ}, summary="A pipeline")
def pipeline_detail(request, pipeline_id: Id):
    return _pipeline(request.user, pipeline_id)


@router.post("/pipelines", response={201: PipelineOut, **CREATE}, summary="Add a pipeline (admins)")
def pipeline_create(request, body: PipelineCreate):
    settings_access(user=request.user)
    team = body_record(teams_for_user(user=request.user), body.team, field="team")
    pipeline = services.pipeline_create(
        acting_user=request.user, name=body.name, team=team, standard_stages=body.standard_stages
    )
    return Status(201, _pipeline(request.user, pipeline.pk))


@router.patch(
    "/pipelines/{pipeline_id}",
    response={200: PipelineOut, **WRITE},
    summary="Change a pipeline (admins)",
)
def pipeline_update(request, pipeline_id: Id, body: PipelineChange):
    """Rename it, give it to another team, set the stage after which deals must be
    qualified (null: none)."""
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pipeline_id)
    settings_access(user=request.user)
    team = pipeline.team
    if sent(body, "team"):
        team = body_record(teams_for_user(user=request.user), body.team, field="team")
    qualified = pipeline.qualified_after_stage
    if sent(body, "qualified_after_stage"):
        qualified = body_record(
            pipeline.stages.active(), body.qualified_after_stage, field="qualified_after_stage"
        )
    services.pipeline_update(
        acting_user=request.user,
        pipeline=pipeline,
        name=body.name if sent(body, "name") else pipeline.name,
        team=team,
        qualified_after_stage=qualified,
    )
    return _pipeline(request.user, pipeline.pk)


@router.get("/stages", response={200: StagePage, **LIST}, summary="List stages")
def stage_list(request, query: Query[StageQuery]):
    """Active stages of the pipelines the user can see, by id."""
    stages = selectors.stages_for_user(user=request.user, pipeline_id=query.pipeline)
    rows, cursor = keyset_page(
        stages, order="id", fields={"id": parse_int}, limit=query.limit, cursor=query.cursor
    )
    return {"results": rows, "next_cursor": cursor}


@router.get("/stages/{stage_id}", response={200: StageOut, **READ}, summary="A stage")
def stage_detail(request, stage_id: Id):
    stage = selectors.stages_for_user(user=request.user).filter(pk=stage_id).first()
    if stage is None:
        raise Http404
    return stage


@router.post(
    "/pipelines/{pipeline_id}/stages",
    response={201: StageOut, **WRITE},
    summary="Add a stage at the end (admins)",
)
def stage_create(request, pipeline_id: Id, body: StageCreate):
    pipeline = selectors.pipeline_get_for_user(user=request.user, pk=pipeline_id)
    settings_access(user=request.user)
    stage = services.stage_create(
        acting_user=request.user,
        pipeline=pipeline,
        name=body.name,
        probability=body.probability,
        rot_days=body.rot_days,
    )
    return Status(201, stage_detail(request, stage.pk))


@router.patch(
    "/stages/{stage_id}", response={200: StageOut, **WRITE}, summary="Change a stage (admins)"
)
def stage_update(request, stage_id: Id, body: StageChange):
    """Name, win probability and rot days (new rot days re-time its deals' staleness)."""
    stage = selectors.stage_get_for_user(user=request.user, pk=stage_id)
    settings_access(user=request.user)
    services.stage_update(
        acting_user=request.user,
        stage=stage,
        name=body.name if sent(body, "name") else stage.name,
        probability=body.probability if sent(body, "probability") else stage.probability,
        rot_days=body.rot_days if sent(body, "rot_days") else stage.rot_days,
    )
    return stage_detail(request, stage.pk)
