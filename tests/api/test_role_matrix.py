"""Every API endpoint against every persona: what each may read and change, and that a
refusal changes nothing.

alice: salesperson in team A, owns the deal, the company (and so its contact) and the
activity · alex: salesperson in team A, owns none of them · bob: manager of team A ·
carol: salesperson in team B · admin. Another team's record is 404 (carol on team A's
records), a visible record the user may not change is 403.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pipeline import services
from pipeline.models import LostReason
from tests.api.conftest import snapshot

OK, CREATED, NO_CONTENT = 200, 201, 204

PERSONAS = ("alice", "alex", "bob", "carol", "admin")


def _expect(alice, alex, bob, carol, admin) -> dict[str, int]:
    return dict(zip(PERSONAS, (alice, alex, bob, carol, admin), strict=True))


READ_TEAM_A = _expect(OK, OK, OK, 404, OK)
READ_ALL = _expect(OK, OK, OK, OK, OK)
CHANGE_ALICES = _expect(OK, 403, OK, 404, OK)
MANAGERS_DELETE = _expect(403, 403, NO_CONTENT, 404, NO_CONTENT)
ADMINS_CHANGE = _expect(403, 403, 403, 404, OK)
ADMINS_ADD = _expect(403, 403, 403, 403, CREATED)
ADMINS_ADD_IN_TEAM_A = _expect(403, 403, 403, 404, CREATED)


def _deal(w):
    return w["deal_alice"]


# (method, path, body, expected per persona). Paths and bodies are built from the world.
ENDPOINTS = {
    "company list": ("get", lambda w: "/companies", None, READ_ALL),
    "company detail": ("get", lambda w: f"/companies/{w['company_a'].pk}", None, READ_TEAM_A),
    "company change": (
        "patch",
        lambda w: f"/companies/{w['company_a'].pk}",
        lambda w: {"phone": "+45 12 34 56 78"},
        CHANGE_ALICES,
    ),
    "contact list": ("get", lambda w: "/contacts", None, READ_ALL),
    "contact detail": ("get", lambda w: f"/contacts/{w['contact_a'].pk}", None, READ_TEAM_A),
    "contact change": (
        "patch",
        lambda w: f"/contacts/{w['contact_a'].pk}",
        lambda w: {"title": "CFO"},
        CHANGE_ALICES,
    ),
    "deal list": ("get", lambda w: "/deals", None, READ_ALL),
    "deal detail": ("get", lambda w: f"/deals/{_deal(w).pk}", None, READ_TEAM_A),
    "deal change": (
        "patch",
        lambda w: f"/deals/{_deal(w).pk}",
        lambda w: {"version": _deal(w).version, "title": "Renamed"},
        CHANGE_ALICES,
    ),
    "deal move": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/move",
        lambda w: {"version": _deal(w).version, "stage": w["deal_unassigned"].stage_id},
        CHANGE_ALICES,
    ),
    "deal won": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/won",
        lambda w: {"version": _deal(w).version},
        CHANGE_ALICES,
    ),
    "deal lost": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/lost",
        lambda w: {"version": _deal(w).version, "reason": w["lost_reason"].pk},
        CHANGE_ALICES,
    ),
    "deal pause": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/pause",
        lambda w: {"version": _deal(w).version, "until": w["in_a_month"], "reason": "Budget"},
        CHANGE_ALICES,
    ),
    "deal resume": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/resume",
        lambda w: {"version": _deal(w).version},
        CHANGE_ALICES,
    ),
    "deal reopen": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/reopen",
        lambda w: {"version": _deal(w).version},
        CHANGE_ALICES,
    ),
    "deal delete": ("delete", lambda w: f"/deals/{_deal(w).pk}", None, MANAGERS_DELETE),
    "deal plan activity": (
        "post",
        lambda w: f"/deals/{_deal(w).pk}/activities",
        lambda w: {"subject": "Send the offer", "due_date": w["in_a_month"]},
        _expect(CREATED, 403, CREATED, 404, CREATED),
    ),
    "activity list": ("get", lambda w: "/activities", None, READ_ALL),
    "activity detail": (
        "get",
        lambda w: f"/activities/{w['activity_alice'].pk}",
        None,
        READ_TEAM_A,
    ),
    "activity change": (
        "patch",
        lambda w: f"/activities/{w['activity_alice'].pk}",
        lambda w: {"subject": "Call Ann about the budget"},
        CHANGE_ALICES,
    ),
    "activity complete": (
        "post",
        lambda w: f"/activities/{w['activity_alice'].pk}/complete",
        lambda w: {},
        CHANGE_ALICES,
    ),
    "pipeline list": ("get", lambda w: "/pipelines", None, READ_ALL),
    "pipeline detail": (
        "get",
        lambda w: f"/pipelines/{_deal(w).pipeline_id}",
        None,
        READ_TEAM_A,
    ),
    "pipeline add": (
        "post",
        lambda w: "/pipelines",
        lambda w: {"name": "Key accounts", "team": _deal(w).pipeline.team_id},
        ADMINS_ADD,
    ),
    "pipeline change": (
        "patch",
        lambda w: f"/pipelines/{_deal(w).pipeline_id}",
        lambda w: {"name": "Renamed pipeline"},
        ADMINS_CHANGE,
    ),
    "stage list": ("get", lambda w: "/stages", None, READ_ALL),
    "stage detail": ("get", lambda w: f"/stages/{_deal(w).stage_id}", None, READ_TEAM_A),
    "stage add": (
        "post",
        lambda w: f"/pipelines/{_deal(w).pipeline_id}/stages",
        lambda w: {"name": "Closing", "probability": 90},
        ADMINS_ADD_IN_TEAM_A,
    ),
    "stage change": (
        "patch",
        lambda w: f"/stages/{_deal(w).stage_id}",
        lambda w: {"probability": 15},
        ADMINS_CHANGE,
    ),
    "user list": ("get", lambda w: "/users", None, READ_ALL),
    "user me": ("get", lambda w: "/users/me", None, READ_ALL),
    "user detail": ("get", lambda w: f"/users/{_deal(w).owner_id}", None, READ_TEAM_A),
    "lost reason list": ("get", lambda w: "/lost-reasons", None, READ_ALL),
    "lost reason detail": (
        "get",
        lambda w: f"/lost-reasons/{w['lost_reason'].pk}",
        None,
        READ_ALL,
    ),
}


@pytest.fixture
def matrix_world(world):
    w = dict(world)
    w["lost_reason"] = LostReason.objects.filter(is_active=True).first()
    w["in_a_month"] = (timezone.localdate() + timedelta(days=30)).isoformat()
    return w


def _prepare(name: str, w) -> None:
    """Put the deal in the state the action needs (resume: paused; reopen: won)."""
    deal = w["deal_alice"]
    if name == "deal resume":
        services.deal_pause(
            acting_user=deal.owner,
            deal=deal,
            version=deal.version,
            until=timezone.localdate() + timedelta(days=9),
            reason="Budget",
        )
    elif name == "deal reopen":
        services.deal_mark_won(acting_user=deal.owner, deal=deal, version=deal.version)
    deal.refresh_from_db()


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_each_persona_gets_the_answer_the_access_rules_give(
    name, persona, matrix_world, api_as, request
):
    method, path, body, expected = ENDPOINTS[name]
    _prepare(name, matrix_world)
    user = request.getfixturevalue(persona)
    api = api_as(user)
    before = snapshot()
    args = (path(matrix_world),) if body is None else (path(matrix_world), body(matrix_world))
    response = getattr(api, method)(*args)
    assert response.status_code == expected[persona], response.content
    if response.status_code >= 400:
        assert response.json()["code"] in ("forbidden", "not_found")
        assert snapshot() == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_everyone_files_a_company_under_their_own_team(persona, world, api_as, request):
    user = request.getfixturevalue(persona)
    team = user.memberships.get().team_id
    response = api_as(user).post("/companies", {"name": f"Zeta of {persona}", "team": team})
    assert response.status_code == CREATED, response.content
    assert response.json()["team_id"] == team
    assert response.json()["owner_id"] == user.pk


@pytest.mark.parametrize("persona", PERSONAS)
def test_nobody_but_an_admin_files_a_company_under_another_team(
    persona, world, api_as, request, team_b
):
    user = request.getfixturevalue(persona)
    api = api_as(user)
    before = snapshot()
    response = api.post("/companies", {"name": "Zeta", "team": team_b.pk})
    if persona in ("carol", "admin"):
        assert response.status_code == CREATED
    else:
        assert response.status_code == 400
        assert "team" in response.json()["errors"]
        assert snapshot() == before


def test_no_token_is_401_on_every_endpoint(matrix_world, anonymous_api):
    for name, (method, path, body, _expected) in ENDPOINTS.items():
        args = (path(matrix_world),) if body is None else (path(matrix_world), body(matrix_world))
        response = getattr(anonymous_api, method)(*args)
        assert response.status_code == 401, name
        assert response["WWW-Authenticate"].startswith("Bearer")
