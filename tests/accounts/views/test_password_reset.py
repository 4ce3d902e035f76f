""" "Forgot your password?": an e-mailed one-time link, the same answer whether or not the
address belongs to anyone, throttled per address and per client address like the sign-in."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts import selectors
from accounts.models import LoginFailure
from accounts.tasks import password_reset_send
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
SITE = "https://crm.example.com"


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "crm@example.com"
    mail.outbox.clear()


@pytest.fixture
def worker():
    """The Celery worker, in the test: a queued reset runs at once (not through the broker)."""
    with mock.patch.object(
        password_reset_send, "apply_async", side_effect=lambda args, **_: password_reset_send(*args)
    ) as queued:
        yield queued


@pytest.fixture
def ask(client, django_capture_on_commit_callbacks):
    """Ask for a link from a client address; what the request queues after commit runs."""

    def ask(email: str, address: str = "10.0.0.1"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("password-reset"), {"email": email}, REMOTE_ADDR=address)

    return ask


def link_in(message) -> str:
    return re.search(rf"{re.escape(SITE)}/accounts/set-password/\S+/", message.body)[0]


def without_csrf(html: str) -> str:
    return re.sub(r'csrfmiddlewaretoken"?[^>]*?value="[^"]+"|"X-CSRFToken": "[^"]+"', "", html)


def test_the_sign_in_page_offers_a_reset(client, db):
    response = client.get(reverse("login"))

    assert f'href="{reverse("password-reset")}"' in response.text
    assert "Forgot your password?" in response.text


def test_the_reset_page_asks_for_an_email_address(client, db):
    response = client.get(reverse("password-reset"))

    assert response.status_code == 200
    assert 'name="email"' in response.text


def test_a_known_address_gets_a_link_that_sets_a_new_password_once(client, alice, worker, ask):
    response = ask("Alice@Example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("password-reset-sent")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert message.from_email == "Nordlys Solutions <crm@example.com>"
    assert "Nordlys Solutions" in message.subject and "\n" not in message.subject
    assert "Your user name is: alice" in message.body
    link = link_in(message)

    page = client.get(link.removeprefix(SITE), follow=True)
    assert 'name="new_password1"' in page.text
    new = "a-brand-new-password-42"
    done = client.post(page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(new)

    again = client.get(link.removeprefix(SITE), follow=True)
    assert "This link no longer works" in again.text
    assert 'name="new_password1"' not in again.text


def test_the_answer_is_the_same_whether_or_not_the_address_exists(client, alice, worker, ask):
    known = ask("alice@example.com")
    unknown = ask("nobody@example.com", address="10.0.0.2")
    assert len(mail.outbox) == 1  # the mail goes only to someone who has the address

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    after_known = client.get(known["Location"])
    after_unknown = client.get(unknown["Location"])
    assert after_known.status_code == after_unknown.status_code == 200
    assert without_csrf(after_known.text) == without_csrf(after_unknown.text)
    assert "If an account has that address" in after_known.text


def test_the_request_does_the_same_work_for_both_and_never_mails_inline(client, alice, ask):
    """The mail is the worker's job: the answer cannot be timed to tell who exists."""
    with mock.patch.object(password_reset_send, "apply_async") as queued:
        ask("alice@example.com")
        ask("nobody@example.com")

    assert mail.outbox == []
    assert [call.kwargs["args"] for call in queued.call_args_list] == [
        ["alice@example.com"],
        ["nobody@example.com"],
    ]


def test_inactive_users_get_nothing(client, alice, worker, ask):
    alice.is_active = False
    alice.save()

    response = ask("alice@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("password-reset-sent")
    assert mail.outbox == []


def test_an_invited_user_who_never_chose_a_password_gets_a_link(client, db, worker, ask):
    erik = UserFactory(username="erik", email="erik@example.com", password=None)
    erik.set_unusable_password()
    erik.save()

    ask("erik@example.com")

    assert [m.to for m in mail.outbox] == [["erik@example.com"]]


def test_bad_input_is_refused_with_400_and_counts_nothing(client, alice, worker, ask):
    for email in ("not-an-address", "", "a" * 250 + "@example.com"):
        response = ask(email)
        assert response.status_code == 400
        assert response.context["form"].errors["email"]

    assert mail.outbox == []
    assert not LoginFailure.objects.exists()


# --- throttling -------------------------------------------------------------------------------


def test_one_address_gets_five_links_per_window_from_anywhere(client, alice, worker, ask):
    for i in range(5):
        assert ask("alice@example.com", address=f"10.0.0.{i + 1}").status_code == 302
    assert len(mail.outbox) == 5

    throttled = ask("alice@example.com", address="10.9.9.9")

    assert throttled.status_code == 302
    assert throttled["Location"] == reverse("password-reset-sent")
    assert len(mail.outbox) == 5


def test_one_client_address_gets_five_requests_per_window(client, alice, worker, ask):
    for i in range(5):
        ask(f"someone{i}@example.com", address="10.0.0.1")
    throttled = ask("alice@example.com", address="10.0.0.1")
    assert throttled["Location"] == reverse("password-reset-sent")
    assert mail.outbox == []

    ask("alice@example.com", address="10.0.0.2")  # another office

    assert len(mail.outbox) == 1


def test_the_throttle_counts_unknown_addresses_like_known_ones(client, alice, db, ask):
    """Otherwise the sixth answer would tell whether the address exists."""
    with mock.patch.object(password_reset_send, "apply_async"):
        for i in range(5):
            ask("alice@example.com", address=f"10.0.1.{i}")
            ask("nobody@example.com", address=f"10.0.2.{i}")

    assert selectors.password_reset_is_throttled(email="ALICE@example.com", address=None)
    assert selectors.password_reset_is_throttled(email="nobody@example.com", address=None)
    assert not selectors.password_reset_is_throttled(email="other@example.com", address=None)


def test_the_throttle_ends_when_the_window_has_passed(client, alice, worker, ask):
    for _ in range(6):
        ask("alice@example.com")
    assert len(mail.outbox) == 5
    LoginFailure.objects.update(at=timezone.now() - timedelta(minutes=16))

    ask("alice@example.com")

    assert len(mail.outbox) == 6


def test_reset_requests_do_not_lock_the_sign_in_and_failed_sign_ins_do_not_block_resets(
    client, alice, worker, ask
):
    for _ in range(5):
        ask("alice@example.com", address="10.0.0.1")
    login = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert login.status_code == 302 and client.session[SESSION_KEY] == str(alice.pk)
    client.logout()

    UserFactory(username="dana", email="dana@example.com")
    for _ in range(5):
        client.post(reverse("login"), {"username": "x", "password": "y"}, REMOTE_ADDR="10.0.0.7")
    ask("dana@example.com", address="10.0.0.7")
    assert mail.outbox[-1].to == ["dana@example.com"]


# --- delivery ---------------------------------------------------------------------------------


def test_with_the_broker_down_the_link_is_sent_in_the_request(client, alice, ask):
    down = OperationalError("broker down")
    with mock.patch.object(password_reset_send, "apply_async", side_effect=down):
        response = ask("alice@example.com")

    assert response.status_code == 302
    assert len(mail.outbox) == 1 and link_in(mail.outbox[0])


def test_the_log_names_the_request_never_the_link(client, alice, worker, caplog, ask):
    with caplog.at_level(logging.INFO, logger="crm.security"):
        ask("alice@example.com")
    link = link_in(mail.outbox[0])
    token = link.rstrip("/").rsplit("/", 1)[1]

    assert "event=password_reset_requested" in caplog.text
    assert f"event=password_reset_sent user_id={alice.pk}" in caplog.text
    assert token not in caplog.text
