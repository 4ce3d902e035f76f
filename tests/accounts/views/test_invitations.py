"""Invitations by e-mail (Settings → Users): admins invite, resend and revoke; the invited
person accepts through a signed, expiring, single-use link, chooses their name and password
and is signed in. Expired, used, resent-since, revoked and tampered links are refused alike."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Invitation, Membership, Role, User
from accounts.tasks import invitation_send
from accounts.tokens import invitation_token_generator

SITE = "https://crm.example.com"
NEW_PASSWORD = "a long and unusual passphrase"


def state():
    """Everything these pages can change, to show a refusal changed nothing."""
    return (
        sorted(
            User.objects.values_list(
                "pk", "username", "first_name", "email", "is_active", "password"
            )
        ),
        sorted(Membership.objects.values_list("user_id", "team_id", "role")),
        sorted(Invitation.objects.values_list("pk", "user_id", "sent_at", "accepted_at")),
    )


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "crm@example.com"
    mail.outbox.clear()


@pytest.fixture
def worker():
    """The Celery worker, in the test: a queued invitation is mailed at once."""
    with mock.patch.object(
        invitation_send, "apply_async", side_effect=lambda args, **_: invitation_send(*args)
    ) as queued:
        yield queued


@pytest.fixture
def invite(client, admin, team_b, worker, django_capture_on_commit_callbacks):
    """Invite someone as the admin; returns the mailed link."""

    def invite(email="erik@example.com", role=Role.SALESPERSON, team=team_b):
        client.force_login(admin)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("settings-invitation-create"),
                {"email": email, "team": team.pk, "role": role},
            )
        assert response.status_code == 302, response.content
        return link_in(mail.outbox[-1])

    return invite


def link_in(message) -> str:
    return re.search(rf"{re.escape(SITE)}(/accounts/invitation/\S+/)", message.body)[1]


def accept(client, link, **changes):
    """Open the link and send the form; returns the form's response."""
    opened = client.get(link)
    assert opened.status_code == 302, opened.status_code
    data = {
        "first_name": "Erik",
        "last_name": "Eriksen",
        "username": "erik",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **changes,
    }
    return client.post(opened["Location"], data)


def test_an_admin_invites_and_the_link_is_mailed(invite, team_b):
    link = invite(role=Role.MANAGER)
    erik = User.objects.get(email="erik@example.com")
    assert not erik.is_active and not erik.has_usable_password()
    assert erik.memberships.get().team == team_b
    assert erik.memberships.get().role == Role.MANAGER
    message = mail.outbox[0]
    assert message.to == ["erik@example.com"]
    assert message.from_email == "Nordlys Solutions <crm@example.com>"
    assert "Team B" in message.body and "Manager" in message.body
    assert "testserver" not in message.body
    assert link.startswith("/accounts/invitation/")


def test_the_invited_person_chooses_name_and_password_and_is_signed_in(invite):
    link = invite()
    visitor = Client()
    opened = visitor.get(link)
    # The token leaves the address at once.
    assert opened["Location"].endswith("/accept/")
    page = visitor.get(opened["Location"])
    assert page.status_code == 200
    assert 'value="erik"' in page.text  # the address's name part, offered as user name
    assert page["Cache-Control"] == "no-store"
    response = visitor.post(
        opened["Location"],
        {
            "first_name": "Erik",
            "last_name": "Eriksen",
            "username": "erik.e",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == reverse("home")
    erik = User.objects.get(email="erik@example.com")
    assert (erik.username, erik.first_name, erik.is_active) == ("erik.e", "Erik", True)
    assert erik.check_password(NEW_PASSWORD)
    assert int(visitor.session[SESSION_KEY]) == erik.pk
    assert Invitation.objects.get(user=erik).accepted_at is not None


def test_an_invited_person_cannot_sign_in_before_accepting(invite, client):
    invite()
    client.logout()
    response = client.post(
        reverse("login"), {"username": "erik@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_a_link_works_once(invite):
    link = invite()
    assert accept(Client(), link)["Location"] == reverse("home")
    before = state()
    assert Client().get(link).status_code == 404
    assert state() == before


def test_an_expired_link_is_refused(invite):
    link = invite()
    later = datetime.now() + timedelta(hours=73)
    before = state()
    with mock.patch.object(invitation_token_generator, "_now", return_value=later):
        response = Client().get(link)
    assert response.status_code == 404
    assert "no longer works" in response.text
    assert state() == before


@pytest.mark.parametrize(
    "tamper",
    [
        lambda link: link[:-3] + ("a" if link[-3] != "a" else "b") + link[-2:],
        lambda link: re.sub(r"invitation/[^/]+/", "invitation/OTk5/", link),
        lambda link: re.sub(r"invitation/[^/]+/", "invitation/%%%/", link),
        lambda link: link.rsplit("/", 2)[0] + "/accept/",
    ],
)
def test_a_tampered_link_is_refused_and_changes_nothing(invite, tamper):
    link = invite()
    before = state()
    visitor = Client()
    response = visitor.get(tamper(link))
    assert response.status_code == 404
    response = visitor.post(
        tamper(link),
        {"first_name": "X", "username": "x", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 404
    assert state() == before


def test_a_resend_makes_the_older_links_useless(invite, client, django_capture_on_commit_callbacks):
    old = invite()
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("settings-invitation-resend", args=[invitation.pk]))
    assert response.status_code == 302
    new = link_in(mail.outbox[-1])
    assert new != old
    assert Client().get(old).status_code == 404
    assert accept(Client(), new)["Location"] == reverse("home")


def test_a_revoke_removes_the_invited_account_and_its_link(invite, client):
    link = invite()
    invitation = Invitation.objects.get()
    response = client.post(reverse("settings-invitation-revoke", args=[invitation.pk]))
    assert response.status_code == 302
    assert not User.objects.filter(email="erik@example.com").exists()
    assert not Membership.objects.filter(user_id=invitation.user_id).exists()
    assert Client().get(link).status_code == 404
    # Twice: gone.
    assert (
        client.post(reverse("settings-invitation-revoke", args=[invitation.pk])).status_code == 404
    )


def test_an_accepted_invitation_can_be_neither_resent_nor_revoked(invite, client):
    link = invite()
    accept(Client(), link)
    invitation = Invitation.objects.get()
    before = state()
    for name in ("settings-invitation-resend", "settings-invitation-revoke"):
        assert client.post(reverse(name, args=[invitation.pk])).status_code == 404
    assert state() == before


def test_an_open_link_stops_working_when_revoked_before_the_form_is_sent(invite, client):
    link = invite()
    visitor = Client()
    opened = visitor.get(link)
    client.post(reverse("settings-invitation-revoke", args=[Invitation.objects.get().pk]))
    before = state()
    response = visitor.post(
        opened["Location"],
        {
            "first_name": "Erik",
            "username": "erik",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 404
    assert state() == before


@pytest.mark.parametrize(
    "changes",
    [
        {"password2": "something else entirely"},
        {"password1": "short", "password2": "short"},
        {"username": "has spaces"},
        {"username": "alice"},  # taken
        {"first_name": ""},
    ],
)
def test_bad_answers_on_the_invitation_page_are_400_and_change_nothing(invite, alice, changes):
    link = invite()
    before = state()
    response = accept(Client(), link, **changes)
    assert response.status_code == 400
    assert state() == before


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not-an-address", "role": Role.SALESPERSON},
        {"email": "alice@example.com", "role": Role.SALESPERSON},  # has an account
        {"email": "new@example.com", "role": "emperor"},
        {"email": "", "role": Role.SALESPERSON},
        {"email": "new@example.com", "role": Role.SALESPERSON, "team": 999_999},
    ],
)
def test_bad_invitations_are_400_and_change_nothing(client, admin, alice, team_b, worker, data):
    client.force_login(admin)
    before = state()
    response = client.post(reverse("settings-invitation-create"), {"team": team_b.pk, **data})
    assert response.status_code == 400
    assert state() == before
    assert mail.outbox == []


def test_a_second_invitation_to_the_same_address_is_refused(invite, client, team_b):
    invite()
    before = state()
    response = client.post(
        reverse("settings-invitation-create"),
        {"email": "ERIK@example.com", "team": team_b.pk, "role": Role.SALESPERSON},
    )
    assert response.status_code == 400
    assert "invitation already" in response.text
    assert state() == before


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_only_admins_invite_resend_or_revoke(invite, client, persona, request, team_b):
    invite()
    invitation = Invitation.objects.get()
    client.force_login(request.getfixturevalue(persona))
    before = state()
    requests = [
        (
            reverse("settings-invitation-create"),
            {"email": "x@example.com", "team": team_b.pk, "role": Role.ADMIN},
        ),
        (reverse("settings-invitation-resend", args=[invitation.pk]), {}),
        (reverse("settings-invitation-revoke", args=[invitation.pk]), {}),
    ]
    for url, data in requests:
        assert client.post(url, data).status_code == 403, url
    assert state() == before
    assert len(mail.outbox) == 1


def test_signed_out_visitors_cannot_invite(client, team_b, admin):
    before = state()
    response = client.post(
        reverse("settings-invitation-create"),
        {"email": "x@example.com", "team": team_b.pk, "role": Role.ADMIN},
    )
    assert response["Location"].startswith(reverse("login"))
    assert state() == before


def test_the_users_page_lists_invitations_apart(invite, client):
    invite()
    response = client.get(reverse("settings-users"))
    assert response.status_code == 200
    invitation = Invitation.objects.get()
    assert f'id="invitation-{invitation.pk}"' in response.text
    assert f'id="user-{invitation.user_id}"' not in response.text  # not a deactivated user


def test_an_invited_person_is_not_reactivated_by_hand(invite, client):
    invite()
    erik = User.objects.get(email="erik@example.com")
    before = state()
    response = client.post(reverse("settings-user-reactivate", args=[erik.pk]))
    assert response.status_code == 400
    assert state() == before


def test_with_the_broker_down_the_invitation_is_mailed_by_the_request(
    client, admin, team_b, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with (
        mock.patch("accounts.services.enqueue", return_value=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("settings-invitation-create"),
            {"email": "erik@example.com", "team": team_b.pk, "role": Role.SALESPERSON},
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1


def test_a_mail_server_failure_keeps_the_invitation_and_the_page(
    client, admin, team_b, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    with (
        mock.patch("accounts.services.enqueue", return_value=False),
        mock.patch("accounts.services.send_mail", side_effect=OSError("mail server down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("settings-invitation-create"),
            {"email": "erik@example.com", "team": team_b.pk, "role": Role.SALESPERSON},
        )
    assert response.status_code == 302
    assert Invitation.objects.filter(user__email="erik@example.com").exists()


def test_the_mail_task_does_nothing_for_a_revoked_invitation(invite, client):
    invite()
    invitation = Invitation.objects.get()
    client.post(reverse("settings-invitation-revoke", args=[invitation.pk]))
    mail.outbox.clear()
    assert invitation_send(invitation.pk) is False
    assert mail.outbox == []
