"""The API's fixtures: a personal token per persona and a small client that sends it.

alice: salesperson, team A · alex: salesperson, team A · bob: manager, team A ·
carol: salesperson, team B · admin: admin (member of team A)."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken
from crm.models import Company, Contact
from pipeline import services as pipeline_services
from pipeline.models import Activity, Deal, DealCriterionCheck, Pipeline, Stage, StageChange
from tests.factories import CompanyFactory, ContactFactory, DealFactory


@pytest.fixture(autouse=True)
def _api_settings(settings):
    """A high rate limit unless a test sets its own, and throttle counters of earlier tests
    forgotten (they live in the cache, which outlives a test's database)."""
    settings.API_RATE_LIMIT = "100000/min"
    settings.API_AUTH_FAILURE_LIMIT = "100000/min"
    cache.clear()
    yield
    cache.clear()


class Api:
    """A client that calls /api/v1/ with a Bearer token (or none)."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.token = token

    def _headers(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, params=None, **extra):
        return self.client.get(f"/api/v1{path}", params or {}, **self._headers(), **extra)

    def _send(self, method: str, path: str, body=None, **extra):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body or {})
        return self.client.generic(
            method,
            f"/api/v1{path}",
            data,
            content_type="application/json",
            **self._headers(),
            **extra,
        )

    def post(self, path: str, body=None, **extra):
        return self._send("POST", path, body, **extra)

    def patch(self, path: str, body=None, **extra):
        return self._send("PATCH", path, body, **extra)

    def delete(self, path: str, **extra):
        return self._send("DELETE", path, None, **extra)


def make_token(user, name: str = "tests") -> str:
    return account_services.api_token_create(acting_user=user, user=user, name=name)[1]


@pytest.fixture
def api_as():
    """api_as(user) -> an Api client with a fresh token of that user."""
    return lambda user: Api(make_token(user))


@pytest.fixture
def anonymous_api():
    return Api(None)


@pytest.fixture
def world(alice, alex, bob, carol, admin, stages_a, stages_b):
    """Records in both teams: team A's deal owned by alice, one by alex, an unassigned one;
    team B's deal (carol's) with its company and contact."""
    company_a = CompanyFactory(team=stages_a[0].pipeline.team, name="Acme A", owner=alice)
    contact_a = ContactFactory(company=company_a, name="Ann Acme")
    company_b = CompanyFactory(team=stages_b[0].pipeline.team, name="Bravo B", owner=carol)
    contact_b = ContactFactory(company=company_b, name="Ben Bravo")
    deal_alice = DealFactory(stage=stages_a[0], owner=alice, company=company_a, contact=contact_a)
    activity_alice = pipeline_services.activity_create(
        acting_user=alice, deal=deal_alice, subject="Call Ann", due_date=timezone.localdate()
    )
    deal_alice.refresh_from_db()
    return {
        "activity_alice": activity_alice,
        "company_a": company_a,
        "contact_a": contact_a,
        "company_b": company_b,
        "contact_b": contact_b,
        "deal_alice": deal_alice,
        "deal_alex": DealFactory(stage=stages_a[0], owner=alex, company=company_a),
        "deal_unassigned": DealFactory(stage=stages_a[1], owner=None, company=company_a),
        "deal_carol": DealFactory(
            stage=stages_b[0], owner=carol, company=company_b, contact=contact_b
        ),
    }


SNAPSHOT_MODELS = (Deal, Company, Contact, Activity, Pipeline, Stage, StageChange)
SNAPSHOT_MODELS += (DealCriterionCheck, ApiToken)


def snapshot() -> dict:
    """Every row the API can write, as plain values: equal before and after a refusal."""
    rows = {}
    for model in SNAPSHOT_MODELS:
        exclude = ["last_used_at"] if model is ApiToken else []
        rows[model.__name__] = sorted(
            (row.pk, sorted(model_to_dict(row, exclude=exclude).items(), key=str))
            for row in model.objects.all()
        )
    return rows
