"""/companies: visibility and filters, add (team, owner, duplicates, the form's rules), change."""

from __future__ import annotations

import pytest

from crm.models import Company
from tests.api.conftest import snapshot


def _names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def test_the_list_holds_the_visible_companies_filtered_like_the_page(world, api_as, alice):
    api = api_as(alice)
    assert _names(api.get("/companies")) == ["Acme A"]
    assert _names(api.get("/companies", {"q": "acme"})) == ["Acme A"]
    assert _names(api.get("/companies", {"tier": "A"})) == []
    assert _names(api.get("/companies", {"owner": "me"})) == ["Acme A"]


def test_another_teams_company_is_404(world, api_as, alice):
    response = api_as(alice).get(f"/companies/{world['company_b'].pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_add_normalises_like_the_form(world, api_as, alice):
    response = api_as(alice).post(
        "/companies",
        {"name": "  Nordic Freight ", "website": "WWW.Nordic-Freight.dk/", "country": "dk"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Nordic Freight"
    assert body["website"] == "https://www.nordic-freight.dk"
    assert body["domain"] == "nordic-freight.dk"
    assert body["country"] == "DK"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "A", "phone": "call me"}, "phone"),
        ({"name": "A", "domain": "not a domain"}, "domain"),
        ({"name": "A", "website": "ftp://x.dk"}, "website"),
        ({"name": "A", "country": "XX"}, "country"),
        ({"name": "A", "tier": "D"}, "tier"),
        ({"name": "A\x00"}, "name"),
        ({"name": "A", "owner": 2**40}, "owner"),
    ],
)
def test_bad_input_is_400_on_its_field_and_adds_nothing(world, api_as, alice, body, field):
    api = api_as(alice)
    before = snapshot()
    response = api.post("/companies", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert snapshot() == before


def test_a_look_alike_asks_for_confirmation(world, api_as, alice):
    api = api_as(alice)
    before = snapshot()
    response = api.post("/companies", {"name": "ACME A ApS"})
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert response.json()["duplicates"] == [{"id": world["company_a"].pk, "name": "Acme A"}]
    assert snapshot() == before
    confirmed = api.post("/companies", {"name": "ACME A ApS", "confirm_duplicate": True})
    assert confirmed.status_code == 201


def test_another_teams_look_alike_is_never_shown(world, api_as, alice):
    response = api_as(alice).post("/companies", {"name": "Bravo B"})
    assert response.status_code == 201


def test_change_sends_only_what_changes(world, api_as, alice):
    company = world["company_a"]
    response = api_as(alice).patch(f"/companies/{company.pk}", {"phone": "+45 11 22 33 44"})
    assert response.status_code == 200
    company.refresh_from_db()
    assert (company.phone, company.name, company.owner_id) == (
        "+45 11 22 33 44",
        "Acme A",
        world["deal_alice"].owner_id,
    )


def test_a_salesperson_cannot_give_a_company_away_or_set_a_tier(world, api_as, alice, alex):
    company = world["company_a"]
    api = api_as(alice)
    before = snapshot()
    assert api.patch(f"/companies/{company.pk}", {"owner": alex.pk}).status_code == 400
    assert api.patch(f"/companies/{company.pk}", {"tier": "A"}).status_code == 400
    assert snapshot() == before


def test_a_manager_sets_the_tier_by_hand_and_back(world, api_as, bob):
    company = world["company_a"]
    api = api_as(bob)
    assert api.patch(f"/companies/{company.pk}", {"tier": "A"}).json()["tier_locked"] is True
    assert api.patch(f"/companies/{company.pk}", {"tier": None}).json()["tier_locked"] is False


def test_a_company_cannot_move_to_another_team(world, api_as, bob, team_b):
    company = world["company_a"]
    api = api_as(bob)
    before = snapshot()
    response = api.patch(f"/companies/{company.pk}", {"team": team_b.pk})
    assert response.status_code == 400
    assert "team" in response.json()["errors"]
    assert snapshot() == before
    assert Company.objects.get(pk=company.pk).team_id != team_b.pk
