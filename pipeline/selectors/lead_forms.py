"""Reads for website lead forms: the settings pages (admins only, through `settings_access`)
and the public door, which finds a form by its public key and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from accounts.models import Membership, User
from accounts.selectors import settings_access
from pipeline.models import (
    ALWAYS_REQUIRED,
    LEAD_FIELDS,
    FollowUpRoutine,
    LeadField,
    LeadForm,
    Pipeline,
    Stage,
)


def lead_forms_for_settings(*, user: User) -> QuerySet[LeadForm]:
    """Every lead form with its pipeline and team, active ones first, by name."""
    settings_access(user=user)
    return LeadForm.objects.select_related("pipeline", "pipeline__team").order_by(
        "-is_active", "name", "pk"
    )


def lead_form_get_for_settings(*, user: User, pk: int) -> LeadForm:
    """One form for its settings page (403 for anyone but an admin, 404 for an unknown id),
    with its pipeline, team, fixed owner and round-robin people."""
    settings_access(user=user)
    lead_form = (
        LeadForm.objects.select_related("pipeline", "pipeline__team", "fixed_owner")
        .prefetch_related(
            Prefetch("round_robin_users", queryset=User.objects.order_by("pk")),
        )
        .filter(pk=pk)
        .first()
    )
    if lead_form is None:
        raise Http404
    return lead_form


def lead_form_get_public(*, key: str) -> LeadForm:
    """The form behind a public address: only an active form of a pipeline that is not
    archived; anything else is "not found", like a key that never existed. One query."""
    lead_form = (
        LeadForm.objects.select_related("pipeline")
        .filter(key=key, is_active=True, pipeline__is_archived=False)
        .first()
    )
    if lead_form is None:
        raise Http404
    return lead_form


def lead_form_first_stage(*, lead_form: LeadForm) -> tuple[Stage | None, list[FollowUpRoutine]]:
    """Where the form's leads start (the pipeline's first active stage) and the routines it
    plans on entry: the settings page says whether the form's own next step applies."""
    stage = (
        Stage.objects.active()
        .filter(pipeline_id=lead_form.pipeline_id)
        .order_by("position", "pk")
        .first()
    )
    if stage is None:
        return None, []
    routines = list(
        FollowUpRoutine.objects.filter(stage=stage, is_active=True).order_by("position", "pk")
    )
    return stage, routines


def pipelines_for_lead_forms() -> QuerySet[Pipeline]:
    """The pipelines a form may feed: every active one, with its team (the settings form's
    choices; the page has passed the settings door)."""
    return Pipeline.objects.active().select_related("team").order_by("team__name", "position")


def team_people(*, team_id: int) -> QuerySet[User]:
    """Active members of a team: who may get a form's leads."""
    member_ids = Membership.objects.filter(team_id=team_id).values("user_id")
    return User.objects.filter(is_active=True, pk__in=member_ids).order_by(
        "first_name", "last_name", "username"
    )


@dataclass(frozen=True)
class ShownField:
    """A field the public form shows: the catalogue entry, whether it is required and the
    label (the admin's own, else the catalogue's in the form's language)."""

    field: LeadField
    required: bool
    label: str

    @property
    def key(self) -> str:
        return self.field.key


def lead_form_fields(lead_form: LeadForm) -> list[ShownField]:
    """The fields the form asks for, in the catalogue's order. Name and e-mail always, and
    always required; unknown keys in the stored settings are ignored. No query. Call inside
    the form's language for the catalogue's labels."""
    config = lead_form.fields or {}
    shown = []
    for field in LEAD_FIELDS:
        entry = config.get(field.key)
        if entry is None and field.key not in ALWAYS_REQUIRED:
            continue
        entry = entry if isinstance(entry, dict) else {}
        required = field.key in ALWAYS_REQUIRED or bool(entry.get("required"))
        label = str(entry.get("label") or "").strip() or str(field.label)
        shown.append(ShownField(field=field, required=required, label=label))
    return shown
