"""Security events reach the `crm.security` log, never with a password, session id, CSRF
token or set-password link."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

PASSWORD = "correct-horse-battery"
SECRET_GUESS = "Sup3r-Secret-Guess!"


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="crm.security")
    return caplog


def events(caplog) -> list[str]:
    return [r.security_event for r in caplog.records if r.name == "crm.security"]


def all_text(caplog) -> str:
    return "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)


def test_failed_and_locked_sign_ins_are_logged_without_the_password(client, alice, security_log):
    for _ in range(5):
        client.post(
            reverse("login"),
            {"username": "alice", "password": SECRET_GUESS},
            REMOTE_ADDR="10.1.2.3",
        )
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert events(security_log) == ["login_failed"] * 5 + ["login_locked"]
    record = security_log.records[0]
    assert "username=alice" in record.getMessage() and "address=10.1.2.3" in record.getMessage()
    text = all_text(security_log)
    assert SECRET_GUESS not in text and PASSWORD not in text


def test_sign_in_and_sign_out_are_logged_without_the_session_id(client, alice, security_log):
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    key = client.session.session_key
    csrf = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else "none"
    client.post(reverse("logout"))
    assert events(security_log) == ["login_ok", "logout"]
    text = all_text(security_log)
    assert key not in text and csrf not in text and PASSWORD not in text


def test_password_change_is_logged_without_passwords(client, alice, security_log):
    client.force_login(alice)
    new = "a-much-longer-passphrase-42"
    client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert "password_changed" in events(security_log)
    text = all_text(security_log)
    assert new not in text and PASSWORD not in text


def test_a_refusal_is_logged_as_permission_denied(client, alice, security_log):
    client.force_login(alice)
    assert client.get(reverse("settings-users")).status_code == 403
    assert events(security_log)[-1] == "permission_denied"
    assert "path=/settings/users/" in security_log.records[-1].getMessage()
    assert f"user_id={alice.pk}" in security_log.records[-1].getMessage()


def test_a_csrf_failure_is_logged_once_and_answered_kindly(alice, security_log):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    assert "Reload the page and try again" in response.text
    assert events(security_log)[-1] == "csrf_failure"
    assert "permission_denied" not in events(security_log)
    assert client.session.session_key not in all_text(security_log)


def test_a_deactivation_is_logged(client, admin, alice, security_log):
    client.force_login(admin)
    client.post(reverse("settings-user-deactivate", args=[alice.pk]), {})
    line = next(
        r.getMessage() for r in security_log.records if "user_deactivated" in r.getMessage()
    )
    assert f"user_id={alice.pk}" in line and f"by={admin.pk}" in line


def test_an_invitation_link_never_reaches_the_log(client, admin, team_a, security_log):
    client.force_login(admin)
    response = client.post(
        reverse("settings-user-create"),
        {
            "username": "newbie",
            "first_name": "N",
            "team": team_a.pk,
            "role": "salesperson",
            "sign_in": "link",
        },
    )
    token = re.search(r"/accounts/set-password/([^/]+)/([^/\"]+)/", response.text)[2]
    assert token not in all_text(security_log)


def test_crafted_usernames_cannot_forge_log_lines(client, db, security_log):
    client.post(reverse("login"), {"username": "x\nevent=login_ok user_id=1", "password": "p"})
    message = security_log.records[0].getMessage()
    assert "\n" not in message
    assert [token for token in message.split() if token.startswith("event=")] == [
        "event=login_failed"
    ]
