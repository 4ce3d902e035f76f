"""Fixtures of the lead form tests: a form on team A's pipeline with round robin over alice
and alex, a start token as a visitor's page would have had it, and a clean cache (the rate
limits count in it)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from pipeline import services
from pipeline.models import LeadForm


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def lead_form(admin, alice, alex, stages_a) -> LeadForm:
    lead_form = services.lead_form_create(
        acting_user=admin, name="Contact us", pipeline=stages_a[0].pipeline
    )
    lead_form.allowed_origins = "https://www.example.com"
    lead_form.save(update_fields=["allowed_origins"])
    return lead_form


def token_for(lead_form: LeadForm, *, seconds_ago: float = 10) -> str:
    return services.fill_token(lead_form=lead_form, now=time.time() - seconds_ago)


def answers(lead_form: LeadForm, **overrides) -> dict:
    data = {
        "name": "Jane Doe",
        "email": "jane@acme.example",
        "phone": "+45 12 34 56 78",
        "company": "Acme A/S",
        "message": "We need 40 pallet racks by March.",
        "_ts": token_for(lead_form),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
