"""Mail goes out in the recipient's language and formats, whoever's request or task sent it:
the password reset, the invitation, the set-password mail and the daily digest."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone, translation

from accounts import services as account_services
from accounts.models import Role
from crm.models import Organisation
from crm.organisation import organisation_changed, organisation_get
from crm.web.formats import format_date
from pipeline import services
from tests.catalogue import catalogue
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

MESSAGES = {
    "da": {
        "Choose a new password for %(name)s": "Vælg en ny adgangskode til %(name)s",
        "You are invited to %(name)s's CRM": "Du er inviteret til %(name)s' CRM",
        "Your pipeline for %(day)s": "Din pipeline for %(day)s",
    },
    "de": {
        "Choose a new password for %(name)s": "Neues Passwort für %(name)s wählen",
        "You are invited to %(name)s's CRM": "Einladung zum CRM von %(name)s",
        "Your pipeline for %(day)s": "Ihre Pipeline für %(day)s",
    },
}


@pytest.fixture(autouse=True)
def locmem_email(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    with catalogue(tmp_path, MESSAGES):
        yield


def set_language(user, code: str) -> None:
    user.language = code
    user.save(update_fields=["language"])


def organisation_language(code: str) -> None:
    Organisation.objects.filter(pk=1).update(language=code)
    organisation_changed()


def test_a_password_reset_is_in_the_account_holders_language(alice):
    set_language(alice, "da")
    name = organisation_get().name
    with translation.override("de"):  # whoever typed the address reads German
        assert account_services.password_reset_send(email=alice.email) == 1
    assert mail.outbox[0].subject == f"Vælg en ny adgangskode til {name}"


def test_without_a_choice_the_reset_is_in_the_organisations_language(alice):
    organisation_language("de")
    with translation.override("da"):
        account_services.password_reset_send(email=alice.email)
    assert mail.outbox[0].subject.startswith("Neues Passwort für")


def test_an_invitation_is_in_the_organisations_language_not_the_admins(admin, team_b):
    organisation_language("da")
    set_language(admin, "de")
    with translation.override("de"):
        invitation = account_services.invitation_create(
            acting_user=admin, email="erik@example.com", team=team_b, role=Role.SALESPERSON
        )
        account_services.invitation_send(invitation_id=invitation.pk)
    assert mail.outbox[-1].subject.startswith("Du er inviteret til")


def test_the_digest_is_in_the_recipients_language_and_formats(alice, bob, stages_a):
    set_language(alice, "da")
    set_language(bob, "de")
    today = timezone.localdate()
    for owner in (alice, bob):
        deal = DealFactory(stage=stages_a[0], owner=owner)
        services.activity_create(
            acting_user=owner, deal=deal, subject="Call the CFO", due_date=today
        )
    with translation.override("en-gb"):  # the beat's task runs in the default language
        assert services.digest_send(user=alice, day=today)
        assert services.digest_send(user=bob, day=today)
    with translation.override("da"):
        danish_day = format_date(today, "long")
    with translation.override("de"):
        german_day = format_date(today, "long")
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects[alice.email] == f"Din pipeline for {danish_day}"
    assert subjects[bob.email] == f"Ihre Pipeline für {german_day}"


def test_the_senders_language_is_left_as_it_was(alice):
    set_language(alice, "da")
    with translation.override("de"):
        account_services.password_reset_send(email=alice.email)
        assert translation.get_language() == "de"
