"""Pipelines and their stages (with exit criteria): the answers; the admins' bodies."""

from __future__ import annotations

from typing import Annotated

from ninja import Field, Schema

from crm.api.schemas.common import Id, text

Name = text(100, min_length=1)
Probability = Annotated[int, Field(ge=0, le=100)]
RotDays = Annotated[int, Field(ge=1, le=3650)]


class ExitCriterionOut(Schema):
    id: int
    text: str = Field(description="The customer event.")
    is_required: bool = Field(description="Required criteria block a forward move.")
    position: int


class StageOut(Schema):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int = Field(description="Win probability, 0-100 %.")
    rot_days: int = Field(description="A deal without movement for longer is stale.")
    exit_criteria: list[ExitCriterionOut]

    @staticmethod
    def resolve_exit_criteria(stage) -> list:
        return list(stage.exit_criteria.all())


class PipelineOut(Schema):
    id: int
    name: str
    team_id: int
    position: int
    is_archived: bool
    qualified_after_stage_id: int | None
    stages: list[StageOut] = Field(description="Its stages in board order.")

    @staticmethod
    def resolve_stages(pipeline) -> list:
        return list(pipeline.stages.all())


class PipelinePage(Schema):
    results: list[PipelineOut]
    next_cursor: str | None


class StagePage(Schema):
    results: list[StageOut]
    next_cursor: str | None


class PipelineCreate(Schema):
    name: Name
    team: Id
    standard_stages: bool = Field(
        True, description="Start with Lead in, Qualified, Proposal made, Negotiation."
    )


class PipelineChange(Schema):
    name: Name = None
    team: Id = None
    qualified_after_stage: Id | None = None


class StageCreate(Schema):
    name: Name
    probability: Probability = 10
    rot_days: RotDays = 14


class StageChange(Schema):
    name: Name = None
    probability: Probability = None
    rot_days: RotDays = None
