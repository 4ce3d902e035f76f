"""What the import tests share: the people the fixture files name, and running an import as
the web does (upload, map, start) or as the command line does."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from crm.models import Company, Contact, ImportBatch, Note
from crm.services import imports as import_services
from pipeline.models import (
    Activity,
    Deal,
    DealRevision,
    Flag,
    Notification,
    StageChange,
    StageTotal,
)
from tests.factories import MembershipFactory, UserFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"

# Stages of HubSpot's default pipeline, as a firm maps them onto conftest's `stages_a`.
HUBSPOT_STAGES = {
    "Appointment Scheduled": "Lead in",
    "Qualified To Buy": "Qualified",
    "Presentation Scheduled": "Proposal",
    "Contract Sent": "Negotiation",
    "Closed Won": "won",
    "Closed Lost": "lost",
}


@pytest.fixture
def sven(team_a):
    user = UserFactory(
        username="sven", first_name="Sven", last_name="Sørensen", email="sven@nordlys.example"
    )
    MembershipFactory(user=user, team=team_a, role=Role.SALESPERSON)
    return user


@pytest.fixture
def lena(team_a):
    user = UserFactory(
        username="lena", first_name="Lena", last_name="Lund", email="lena@nordlys.example"
    )
    MembershipFactory(user=user, team=team_a, role=Role.SALESPERSON)
    return user


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else (FIXTURES / name).read_bytes())


def stage_mapping(stages, names: dict[str, str]) -> dict:
    by_name = {s.name: s.pk for s in stages}
    return {file: by_name.get(ours, ours) for file, ours in names.items()}


def create_batch(user, name, *, kind="deals", pipeline=None, team=None, data=None):
    return import_services.import_batch_create(
        acting_user=user,
        kind=kind,
        upload=upload(name, data),
        file_name=name,
        pipeline=pipeline,
        team=team,
    )


def map_batch(user, batch, **changes) -> ImportBatch:
    mapping = {**batch.mapping, **changes}
    import_services.import_batch_map(acting_user=user, batch=batch, mapping=mapping)
    batch.refresh_from_db()
    return batch


def run_import(user, name, *, kind="deals", pipeline=None, team=None, data=None, **mapping):
    """Upload, map and run an import as the web does; the batch when it is done."""
    batch = create_batch(user, name, kind=kind, pipeline=pipeline, team=team, data=data)
    if mapping:
        batch = map_batch(user, batch, **mapping)
    return import_services.import_batch_start(acting_user=user, batch=batch)


COUNTED = (
    Company,
    Contact,
    Deal,
    StageChange,
    DealRevision,
    Activity,
    Flag,
    Notification,
    Note,
    StageTotal,
)


def snapshot() -> dict:
    """Every row the import could touch, to assert that nothing changed."""
    state = {}
    for model in COUNTED:
        # The kept column totals are rebuilt (new rows, same figures): compare the figures.
        left_out = {"updated_at", "id"} if model is StageTotal else {"updated_at"}
        state[model.__name__] = sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k not in left_out))
            for row in model.objects.values()
        )
    return state
