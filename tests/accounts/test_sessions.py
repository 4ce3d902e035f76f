"""Sessions: a new id at sign-in, ended at sign-out and by a password change elsewhere, and
signed out after the idle timeout without a session write on every request."""

from __future__ import annotations

import time

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.middleware import LAST_SEEN_KEY

PASSWORD = "correct-horse-battery"


def sign_in(client: Client, username: str = "alice") -> None:
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def test_sign_in_rotates_the_session_and_drops_the_old_one(client, alice):
    client.get(reverse("login"))
    session = client.session
    session["probe"] = 1
    session.save()
    before = session.session_key
    sign_in(client)
    assert client.session.session_key != before
    assert not Session.objects.filter(session_key=before).exists()


def test_sign_out_deletes_the_session(client, alice):
    sign_in(client)
    key = client.session.session_key
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("home")).status_code == 302


def test_password_change_ends_other_sessions_and_keeps_this_one(alice):
    here, elsewhere = Client(), Client()
    sign_in(here)
    sign_in(elsewhere)
    old_key = here.session.session_key
    new = "a-much-longer-passphrase-42"
    response = here.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert here.session.session_key != old_key  # rotated, still signed in
    assert here.get(reverse("password_change_done")).status_code == 200
    other = elsewhere.get(reverse("home"))
    assert other.status_code == 302 and other["Location"].startswith(reverse("login"))
    assert SESSION_KEY not in elsewhere.session


def test_idle_session_is_signed_out(client, alice, settings):
    sign_in(client)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.IDLE_TIMEOUT_MINUTES * 60 - 5
    session.save()
    key = session.session_key
    response = client.get(reverse("company-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Session.objects.filter(session_key=key).exists()


def test_idle_htmx_request_reloads_to_the_sign_in_page(client, alice, settings):
    sign_in(client)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.IDLE_TIMEOUT_MINUTES * 60 - 5
    session.save()
    response = client.get(
        reverse("company-list"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/companies/",
    )
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_an_active_session_is_kept_and_written_at_most_once_a_minute(client, alice):
    sign_in(client)
    client.get(reverse("company-list"))
    first_seen = client.session[LAST_SEEN_KEY]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("company-list")).status_code == 200
    writes = [q["sql"] for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
    assert writes == []
    assert client.session[LAST_SEEN_KEY] == first_seen

    session = client.session
    session[LAST_SEEN_KEY] = first_seen - 120  # two minutes ago, well inside the timeout
    session.save()
    assert client.get(reverse("company-list")).status_code == 200
    assert client.session[LAST_SEEN_KEY] >= first_seen


def test_session_cookie_lasts_as_long_as_the_idle_timeout(settings):
    assert settings.SESSION_COOKIE_AGE == settings.IDLE_TIMEOUT_MINUTES * 60
    # Rows in the database read through the shared cache: every node finds the session, and
    # a cache outage only sends the reads to the database (docs/decisions.md).
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"


def test_a_deactivated_users_session_is_ended_at_the_next_request(client, alice):
    sign_in(client)
    key = client.session.session_key
    alice.is_active = False
    alice.save()
    assert client.get(reverse("home")).status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
