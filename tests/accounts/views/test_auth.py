"""Sign in, sign out and password change."""

from __future__ import annotations

import re

from django.contrib.auth import SESSION_KEY
from django.urls import reverse

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory


def without_csrf(html: str) -> str:
    """The page without its per-request CSRF tokens (form field and hx-headers)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", html)


def test_login_page_renders_without_navigation(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="username"' in response.text
    assert 'name="password"' in response.text
    assert 'class="topnav"' not in response.text
    assert "auth-card" in response.text


def test_login_works_and_goes_to_the_board(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.session[SESSION_KEY] == str(alice.pk)


def test_login_follows_a_safe_next_and_ignores_an_outside_one(client, alice):
    data = {"username": "alice", "password": PASSWORD}
    response = client.post(reverse("login"), {**data, "next": "/companies/"})
    assert response["Location"] == "/companies/"
    client.logout()
    response = client.post(reverse("login"), {**data, "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_wrong_password_and_unknown_user_get_the_same_answer(client, alice):
    wrong = client.post(reverse("login"), {"username": "alice", "password": "nope-nope"})
    unknown = client.post(reverse("login"), {"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors
    assert "Please enter a correct username and password" in wrong.text
    strip_username = lambda r, name: without_csrf(r.text).replace(f'value="{name}"', "")  # noqa: E731
    assert strip_username(wrong, "alice") == strip_username(unknown, "nobody")
    assert SESSION_KEY not in client.session


def test_inactive_user_gets_the_same_answer_as_a_wrong_password(client, alice):
    alice.is_active = False
    alice.save()
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert SESSION_KEY not in client.session


def test_signed_in_user_is_sent_past_the_login_page(client, alice):
    client.force_login(alice)
    response = client.get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_session_id_changes_at_login(client, alice):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert client.session.session_key != before


def test_logout_requires_post(client, alice):
    client.force_login(alice)
    assert client.get(reverse("logout")).status_code == 405
    assert client.session[SESSION_KEY] == str(alice.pk)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert SESSION_KEY not in client.session


def test_password_change_page_renders_for_a_signed_in_user(client, alice):
    client.force_login(alice)
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    assert 'name="old_password"' in response.text
    assert 'name="new_password1"' in response.text
    assert 'class="topnav"' in response.text


def test_password_change_needs_a_signed_in_user(client, db):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_password_change_works(client, alice):
    client.force_login(alice)
    new = "a-much-longer-passphrase-42"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert client.get(reverse("password_change_done")).status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(new)


def test_password_change_with_wrong_old_password_changes_nothing(client, alice):
    client.force_login(alice)
    new = "a-much-longer-passphrase-42"
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
