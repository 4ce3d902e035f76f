"""Tokens at the door: no token, a wrong, revoked or expired one, a deactivated user, a
session cookie instead of a token; the per-token throttle and the wrong-token throttle (429
with Retry-After); the schema and the docs page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import ApiToken
from tests.api.conftest import Api, make_token, snapshot


def test_a_token_acts_as_its_user(alice, api_as):
    response = api_as(alice).get("/users/me")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert response.json()["memberships"] == [
        {"team_id": alice.memberships.get().team_id, "team_name": "Team A", "role": "salesperson"}
    ]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer crm_wrong",
        "Token crm_x",
        "Basic YWxpY2U6ZGVtbw==",
        "Bearer \x00",
    ],
)
def test_a_missing_or_wrong_token_is_401(alice, header):
    client = Client()
    response = client.get("/api/v1/deals", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_only_the_digest_is_stored(alice):
    token, secret = account_services.api_token_create(acting_user=alice, user=alice, name="x")
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret.startswith("crm_") and len(secret) > 40
    assert secret not in {stored.digest, stored.prefix, stored.name}
    assert stored.digest == account_selectors.api_token_digest(secret)
    assert secret.startswith(stored.prefix)


def test_a_revoked_token_stops_working_at_once(alice):
    token, secret = account_services.api_token_create(acting_user=alice, user=alice, name="x")
    assert Api(secret).get("/deals").status_code == 200
    account_services.api_token_revoke(acting_user=alice, token=token)
    assert Api(secret).get("/deals").status_code == 401


def test_an_expired_token_is_401(alice):
    token, secret = account_services.api_token_create(
        acting_user=alice, user=alice, name="x", expires_at=timezone.now() + timedelta(days=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Api(secret).get("/deals").status_code == 401


def test_a_deactivated_users_token_is_401(alice, admin):
    secret = make_token(alice)
    account_services.user_deactivate(acting_user=admin, user=alice)
    assert Api(secret).get("/deals").status_code == 401


def test_a_session_cookie_is_not_enough(client, alice):
    """The API takes the Bearer token only: a signed-in browser cannot be made to call it."""
    client.force_login(alice)
    assert client.get("/api/v1/deals").status_code == 401
    assert (
        client.post("/api/v1/companies", {"name": "X"}, content_type="application/json").status_code
        == 401
    )


def test_token_requests_need_no_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/companies",
        {"name": "Without CSRF"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {make_token(alice)}",
    )
    assert response.status_code == 201


def test_last_used_is_recorded_at_most_once_a_minute(alice):
    token, secret = account_services.api_token_create(acting_user=alice, user=alice, name="x")
    assert token.last_used_at is None
    Api(secret).get("/deals")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    Api(secret).get("/deals")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    Api(secret).get("/deals")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_a_token_over_its_rate_gets_429_with_retry_after(alice, bob, settings):
    settings.API_RATE_LIMIT = "3/min"
    api = Api(make_token(alice))
    assert [api.get("/deals").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("/deals")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Per token: another user's token (and another token of alice's) is counted apart.
    assert Api(make_token(bob)).get("/deals").status_code == 200
    assert Api(make_token(alice, name="second")).get("/deals").status_code == 200


def test_wrong_tokens_are_throttled_per_address(alice, settings):
    settings.API_AUTH_FAILURE_LIMIT = "2/min"
    wrong = Api("crm_" + "x" * 43)
    assert [wrong.get("/deals").status_code for _ in range(2)] == [401, 401]
    refused = wrong.get("/deals")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1


def test_the_schema_and_the_docs_need_no_token(client, db):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/deals/{deal_id}/move" in schema.json()["paths"]
    assert schema.json()["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/vendor/swagger-ui-bundle-5.35.0.js" in html
    assert "/static/js/api-docs.js" in html
    assert "<script>" not in html  # no inline script: the CSP below forbids them
    assert "cdn" not in html.lower()
    assert "script-src 'self'" in docs["Content-Security-Policy"]


def test_the_vendored_docs_assets_are_in_static():
    for path in (
        "vendor/swagger-ui-bundle-5.35.0.js",
        "vendor/swagger-ui-5.35.0.css",
        "js/api-docs.js",
    ):
        assert finders.find(path), path


def test_an_oversized_body_is_413_and_changes_nothing(world, api_as, alice, settings):
    settings.API_MAX_BODY_BYTES = 1000
    api = api_as(alice)
    before = snapshot()
    response = api.post("/companies", {"name": "x", "address": "y" * 2000})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert snapshot() == before


@pytest.mark.parametrize("body", ['{"name": ', "[1, 2]", "name=x", "\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(world, api_as, alice, body):
    response = api_as(alice).post("/companies", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
