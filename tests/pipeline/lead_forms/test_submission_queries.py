"""What a website lead costs the database: the public POST's queries, pinned per kind of lead
(docs/performance.md: a submission under 30 ms). Each named query in a docstring; a change
in the count means a query was added or saved, on purpose."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline.models import Deal
from tests.factories import CompanyFactory, ContactFactory
from tests.pipeline.lead_forms.conftest import answers
from webhooks.services.events import subscribers_get

pytestmark = pytest.mark.django_db


def _post(lead_form, **overrides):
    client = Client()
    # A running server holds the webhook endpoints in memory; this module's clean cache made
    # them look changed, so they are read here, outside the count (tests/conftest.py).
    subscribers_get()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("lead-form-public", args=[lead_form.key]), answers(lead_form, **overrides)
        )
    assert response.status_code == 200, response.content[:500]
    return [q["sql"] for q in queries.captured_queries]


def test_a_new_firms_lead_query_count(lead_form):
    """Pinned, 25 in a test (the test's transaction makes BEGIN and COMMIT savepoints): the
    organisation row (a process reads it once per version), the form by its key; then in the
    transaction the form's row counted, locked and its round robin moved on (one UPDATE), the
    first stage with its pipeline, the owner if still eligible, the contact by e-mail, the
    company by the mail's domain and then by name, the new company and contact, `deal_create`'s
    savepoint, owner check, column lock, top position, deal, history, kept total (UPDATE,
    and an INSERT the first time), the form's first step and the deal's copy of it, the note,
    the notification."""
    sql = _post(lead_form)
    assert Deal.objects.filter(source__startswith="Website form").count() == 1
    assert len(sql) == QUERIES_NEW_FIRM, "\n".join(sql)


def test_a_known_contacts_lead_query_count(lead_form, team_a):
    company = CompanyFactory(team=team_a, name="Acme A/S", domain="acme.example")
    ContactFactory(company=company, email="jane@acme.example")
    sql = _post(lead_form)
    assert len(sql) == QUERIES_KNOWN_CONTACT, "\n".join(sql)


QUERIES_NEW_FIRM = 25
QUERIES_KNOWN_CONTACT = 21
