"""Sign-in throttling: per account and per client address, the same answer for unknown
users, wrong passwords and locked accounts, failures cleared by a successful sign-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django.utils import timezone

from accounts.models import LoginFailure

PASSWORD = "correct-horse-battery"


def attempt(client, username, password, address="10.0.0.1", **extra):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **extra,
    )


def error_text(response) -> str:
    return " ".join(response.context["form"].non_field_errors())


def test_five_wrong_passwords_lock_the_account_even_with_the_right_one(client, alice):
    for _ in range(5):
        assert attempt(client, "alice", "wrong-guess").status_code == 200
    locked = attempt(client, "alice", PASSWORD, address="10.9.9.9")
    assert locked.status_code == 200
    assert SESSION_KEY not in client.session


def test_the_lock_answer_is_the_same_as_a_wrong_password(client, alice):
    wrong = attempt(client, "alice", "wrong-guess")
    unknown = attempt(client, "nobody", "wrong-guess")
    for _ in range(4):
        attempt(client, "alice", "wrong-guess")
    locked = attempt(client, "alice", PASSWORD, address="10.9.9.9")
    assert error_text(wrong) == error_text(unknown) == error_text(locked)
    assert "Please enter a correct username and password" in error_text(locked)


def test_the_lock_ends_when_the_window_has_passed(client, alice):
    for _ in range(5):
        attempt(client, "alice", "wrong-guess")
    LoginFailure.objects.update(at=timezone.now() - timedelta(minutes=16))
    response = attempt(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(alice.pk)


def test_a_successful_sign_in_clears_the_accounts_failures(client, alice):
    for _ in range(4):
        attempt(client, "alice", "wrong-guess")
    assert attempt(client, "alice", PASSWORD).status_code == 302
    assert not LoginFailure.objects.filter(username="alice").exists()
    client.logout()
    for _ in range(4):
        attempt(client, "alice", "wrong-guess", address="10.0.0.2")
    assert attempt(client, "alice", PASSWORD, address="10.0.0.3").status_code == 302


def test_usernames_are_counted_without_case(client, alice):
    for name in ["alice", "ALICE", "Alice", "aLiCe", "alicE"]:
        attempt(client, name, "wrong-guess", address=f"10.0.1.{len(name) + ord(name[1])}")
    assert attempt(client, "alice", PASSWORD, address="10.0.2.1").status_code == 200


def test_one_address_guessing_many_accounts_is_locked(client, alice, bob):
    for i in range(5):
        attempt(client, f"guess{i}", "wrong-guess", address="192.0.2.7")
    assert attempt(client, "bob", PASSWORD, address="192.0.2.7").status_code == 200
    # Bob from his own address is not affected.
    assert attempt(client, "bob", PASSWORD, address="198.51.100.1").status_code == 302


def test_forwarded_for_is_ignored_without_a_trusted_proxy(client, alice):
    for i in range(5):
        attempt(client, "x", "wrong", address="192.0.2.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    assert set(LoginFailure.objects.values_list("address", flat=True)) == {"192.0.2.7"}


def test_forwarded_for_is_used_behind_a_trusted_proxy(client, alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attempt(client, "x", "wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert list(LoginFailure.objects.values_list("address", flat=True)) == ["203.0.113.9"]


def test_the_django_admin_login_is_throttled_too(client, alice):
    alice.is_staff = True
    alice.save()
    for _ in range(5):
        client.post(
            "/admin/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.1"
        )
    client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("username", ["", "a" * 300, "alice\nevent=login_ok"])
def test_odd_usernames_never_break_the_login(client, alice, username):
    response = attempt(client, username, "wrong-guess")
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
