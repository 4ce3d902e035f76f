"""`seed_demo` creates one website lead form for team North's first pipeline, prints its
public address, and keeps it (and its address) when run again; the lead balance has
something to show."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from pipeline.models import Deal, LeadForm, OwnerRule, RepCapacity

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_a_lead_form_for_north_and_prints_its_address():
    output = seed()
    lead_form = LeadForm.objects.get()
    assert lead_form.pipeline.team.name == "North"
    assert lead_form.pipeline == lead_form.pipeline.team.pipelines.order_by("position", "pk")[0]
    assert lead_form.owner_rule == OwnerRule.ROUND_ROBIN
    assert sorted(u.username for u in lead_form.round_robin_users.all()) == ["lena", "sven"]
    url = f"{settings.SITE_URL}/forms/{lead_form.key}/"
    assert f"Demo lead form for North / {lead_form.pipeline.name}: {url}" in output

    assert seed().count(url) == 1
    assert LeadForm.objects.count() == 1

    page = Client().get(f"/forms/{lead_form.key}/")
    assert page.status_code == 200 and "Talk to our sales team" in page.content.decode()
    # Something for the lead balance: recent North deals from the form, and capacities.
    from_form = Deal.objects.filter(source="Website form: Contact us")
    assert from_form.exists()
    assert set(from_form.values_list("pipeline__team__name", flat=True)) == {"North"}
    assert sorted(RepCapacity.objects.values_list("user__username", "open_deals")) == [
        ("lena", 60),
        ("sven", 20),
    ]
