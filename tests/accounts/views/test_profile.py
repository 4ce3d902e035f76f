"""The profile page's API tokens: create (shown once), list with last use, revoke; an admin
revokes anyone's from the settings user page; `manage.py api_token`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts import selectors, services
from accounts.models import ApiToken


def test_the_profile_page_lists_the_users_own_tokens(client, alice, bob):
    services.api_token_create(acting_user=alice, user=alice, name="Alices script")
    services.api_token_create(acting_user=bob, user=bob, name="Bobs script")
    client.force_login(alice)
    page = client.get(reverse("profile")).content.decode()
    assert "Alices script" in page and "Bobs script" not in page
    assert "Never used" in page


def test_creating_shows_the_secret_once_and_stores_its_digest(client, alice):
    client.force_login(alice)
    response = client.post(reverse("api-token-create"), {"name": "Website form", "expires": "90"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=alice)
    secret = response.context["secret"]
    assert selectors.api_token_digest(secret) == token.digest
    assert secret in response.content.decode()
    assert token.expires_at is not None
    assert secret not in client.get(reverse("profile")).content.decode()


@pytest.mark.parametrize("data", [{"name": "", "expires": "90"}, {"name": "x", "expires": "7"}])
def test_bad_input_is_400_and_creates_nothing(client, alice, data):
    client.force_login(alice)
    response = client.post(reverse("api-token-create"), data)
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_user_cannot_exceed_the_token_limit(client, alice):
    for i in range(services.API_TOKENS_PER_USER):
        services.api_token_create(acting_user=alice, user=alice, name=f"t{i}")
    client.force_login(alice)
    response = client.post(reverse("api-token-create"), {"name": "one more", "expires": "30"})
    assert response.status_code == 400
    assert ApiToken.objects.count() == services.API_TOKENS_PER_USER


def test_revoking_ones_own_token(client, alice):
    token, _ = services.api_token_create(acting_user=alice, user=alice, name="x")
    client.force_login(alice)
    response = client.post(reverse("api-token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == alice


def test_another_users_token_is_404_and_stays(client, alice, bob):
    token, _ = services.api_token_create(acting_user=bob, user=bob, name="x")
    client.force_login(alice)
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_an_admin_revokes_anyones_token_from_the_settings_page(client, admin, bob):
    token, _ = services.api_token_create(acting_user=bob, user=bob, name="Bobs script")
    client.force_login(admin)
    page = client.get(reverse("settings-user-detail", args=[bob.pk])).content.decode()
    assert "Bobs script" in page
    response = client.post(reverse("api-token-revoke", args=[token.pk]))
    assert response["Location"] == reverse("settings-user-detail", args=[bob.pk])
    token.refresh_from_db()
    assert token.revoked_by == admin


def test_nobody_makes_a_token_for_someone_else(admin, bob):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.api_token_create(acting_user=admin, user=bob, name="x")
    assert not ApiToken.objects.exists()


def test_revoke_needs_a_post(client, alice):
    token, _ = services.api_token_create(acting_user=alice, user=alice, name="x")
    client.force_login(alice)
    assert client.get(reverse("api-token-revoke", args=[token.pk])).status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_command_prints_a_working_token(alice):
    out, err = StringIO(), StringIO()
    call_command(
        "api_token",
        "create",
        "alice",
        "--name",
        "CI",
        "--expires-days",
        "7",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    token = selectors.api_token_for_secret(secret=secret)
    assert token is not None and token.user == alice and token.name == "CI"
    assert "shown only now" in err.getvalue()
    listing = StringIO()
    call_command("api_token", "list", "alice", stdout=listing)
    assert "CI" in listing.getvalue() and secret not in listing.getvalue()
    call_command("api_token", "revoke", str(token.pk), stdout=StringIO())
    assert selectors.api_token_for_secret(secret=secret) is None


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError):
        call_command("api_token", "create", "nobody", stdout=StringIO())
