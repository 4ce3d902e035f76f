"""/contacts: visibility and filters, add under a company the user may change, change."""

from __future__ import annotations

from tests.api.conftest import snapshot


def test_the_list_holds_the_visible_contacts(world, api_as, alice, carol):
    assert [c["name"] for c in api_as(alice).get("/contacts").json()["results"]] == ["Ann Acme"]
    assert [c["name"] for c in api_as(carol).get("/contacts").json()["results"]] == ["Ben Bravo"]
    filtered = api_as(alice).get("/contacts", {"company": world["company_b"].pk})
    assert filtered.json()["results"] == []


def test_add_and_change(world, api_as, alice):
    api = api_as(alice)
    created = api.post(
        "/contacts",
        {"company": world["company_a"].pk, "name": "Bo", "email": "bo@acme.dk", "phone": "+45 1"},
    )
    assert created.status_code == 201, created.content
    changed = api.patch(f"/contacts/{created.json()['id']}", {"title": "CFO"})
    assert changed.json()["title"] == "CFO"
    assert changed.json()["email"] == "bo@acme.dk"


def test_a_contact_under_another_teams_company_is_refused(world, api_as, alice):
    api = api_as(alice)
    before = snapshot()
    response = api.post("/contacts", {"company": world["company_b"].pk, "name": "Sneaky"})
    assert response.status_code == 400
    assert "company" in response.json()["errors"]
    moved = api.patch(f"/contacts/{world['contact_a'].pk}", {"company": world["company_b"].pk})
    assert moved.status_code == 400
    assert snapshot() == before


def test_a_company_the_user_may_not_change_is_refused(world, api_as, alex):
    """alex sees alice's company but may not change it, nor file contacts under it."""
    api = api_as(alex)
    before = snapshot()
    response = api.post("/contacts", {"company": world["company_a"].pk, "name": "Cy"})
    assert response.status_code == 400
    assert response.json()["errors"]["company"]
    assert snapshot() == before


def test_a_bad_email_is_400(world, api_as, alice):
    api = api_as(alice)
    response = api.post(
        "/contacts", {"company": world["company_a"].pk, "name": "Di", "email": "not-an-email"}
    )
    assert response.status_code == 400
    assert "email" in response.json()["errors"]
