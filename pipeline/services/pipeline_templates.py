"""A new pipeline from a template of the catalogue (`pipeline.catalogue`): its stages, exit
criteria and follow-up routines, written at once."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import Team, User
from crm.transactions import atomic_with_retry
from pipeline.catalogue import template_by_key
from pipeline.models import ExitCriterion, FollowUpRoutine, Pipeline, Stage
from pipeline.services.settings import SettingsError

NAME_MAX_LENGTH = Pipeline._meta.get_field("name").max_length


@atomic_with_retry
def pipeline_create_from_template(
    *,
    acting_user: User,
    team: Team,
    template_key: str,
    name: str | None = None,
    language: str | None = None,
) -> Pipeline:
    """Create a pipeline for `team` from the template `template_key`, placed last: its stages
    (probability, rot days), their exit criteria and their follow-up routines, in one
    transaction, so a refusal or a failure leaves nothing behind. Texts are written in
    `language`, by default the one active now (the admin's page's: they see the template in
    it before they pick it). `name` defaults to the template's name.

    Admins only (PermissionDenied otherwise, checked here as well as at the caller's door);
    an unknown key or an overlong name is a SettingsError (400). Not idempotent: each call
    creates one more pipeline."""
    if not access_for(acting_user).is_admin:
        raise PermissionDenied(_("Only an admin can create pipelines."))
    template = template_by_key(template_key)
    if template is None:
        raise SettingsError(_("Pick one of the pipeline templates offered."), field="template")
    with translation.override(language or translation.get_language()):
        name = (name or "").strip() or str(template.name)
    if len(name) > NAME_MAX_LENGTH:
        raise SettingsError(
            _("Keep the name to %(max)d characters.") % {"max": NAME_MAX_LENGTH}, field="name"
        )
    if team is None or team.pk is None:
        raise SettingsError(_("Pick a team for the pipeline."), field="team")
    with translation.override(language or translation.get_language()):
        return _materialise(template, team=team, name=name)


def _materialise(template, *, team: Team, name: str | None) -> Pipeline:
    top = Pipeline.objects.aggregate(m=Max("position"))["m"]
    pipeline = Pipeline.objects.create(name=name, team=team, position=0 if top is None else top + 1)
    stages = Stage.objects.bulk_create(
        Stage(
            pipeline=pipeline,
            name=str(stage.name),
            probability=stage.probability,
            rot_days=stage.rot_days,
            position=i,
            has_routines=bool(stage.routines),
        )
        for i, stage in enumerate(template.stages)
    )
    ExitCriterion.objects.bulk_create(
        ExitCriterion(stage=stage, text=str(c.text), is_required=c.is_required, position=i)
        for stage, spec in zip(stages, template.stages, strict=True)
        for i, c in enumerate(spec.criteria)
    )
    FollowUpRoutine.objects.bulk_create(
        FollowUpRoutine(
            stage=stage,
            subject=str(r.subject),
            kind=r.kind,
            due_in_days=r.due_in_days,
            position=i,
        )
        for stage, spec in zip(stages, template.stages, strict=True)
        for i, r in enumerate(spec.routines)
    )
    return pipeline
