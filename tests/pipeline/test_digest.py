"""The daily e-mail digest: what it says, that it is skipped when empty, and that it goes out
at most once per user and day however many times (or at once) the task runs."""

from __future__ import annotations

import smtplib
import threading
from datetime import datetime, time, timedelta
from email.header import decode_header, make_header
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from crm.models import Organisation
from crm.organisation import organisation_changed, organisation_get
from pipeline import services, tasks
from pipeline.models import DigestSent
from tests.conftest import requires_postgres
from tests.factories import CompanyFactory, DealFactory, UserFactory


@pytest.fixture(autouse=True)
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def busy_day(alice, bob, stages_a, today):
    """alice owns a deal without a next step (flagged by the scan) and has a call due today
    on another deal, plus a step due tomorrow that today's digest leaves out."""
    company = CompanyFactory(team=stages_a[0].pipeline.team, name="Müller & Søn")
    flagged = DealFactory(stage=stages_a[1], owner=alice, title="Racking upgrade", company=company)
    planned = DealFactory(stage=stages_a[0], owner=alice, title="Fleet tracking for 40 trucks")
    services.activity_create(
        acting_user=alice,
        deal=planned,
        subject="Call the CFO",
        due_date=today,
        due_time=time(9, 30),
    )
    services.activity_create(
        acting_user=alice, deal=planned, subject="Send the contract", due_date=today + timedelta(1)
    )
    DealFactory(stage=stages_a[0], owner=bob, title="Bob's own deal")
    services.flags_scan()
    return flagged, planned


def test_sends_one_message_with_text_and_html_listing_flags_and_todays_steps(
    alice, busy_day, today
):
    assert services.digest_send(user=alice, day=today) is True

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert today.strftime("%Y") in message.subject
    text = message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    for part in (text, html):
        assert "Good morning Alice" in part
        assert "Call the CFO" in part and "09:30" in part
        assert "Fleet tracking for 40 trucks" in part
        assert "Racking upgrade" in part and "No next step" in part
        assert "Send the contract" not in part  # due tomorrow
        assert "Bob&#x27;s own deal" not in part and "Bob's own deal" not in part
    # Plain text is not HTML-escaped; the HTML part is.
    assert "Müller & Søn" in text
    assert "Müller &amp; Søn" in html
    assert DigestSent.objects.get(user=alice, date=today).sent_at is not None


def test_links_to_the_board_and_each_deal_start_with_site_url(alice, busy_day, today, settings):
    settings.SITE_URL = "https://crm.example.com"
    flagged, planned = busy_day

    services.digest_send(user=alice, day=today)

    message = mail.outbox[0]
    html, _ = message.alternatives[0]
    for part in (message.body, html):
        assert f"https://crm.example.com/deals/{flagged.pk}/" in part
        assert f"https://crm.example.com/deals/{planned.pk}/" in part
    assert 'href="https://crm.example.com/"' in html
    assert f'href="https://crm.example.com/deals/{flagged.pk}/"' in html
    assert "Open your board to act on them: https://crm.example.com/\n" in message.body


def test_comes_from_default_from_email_under_the_organisations_current_name(
    alice, busy_day, today, settings
):
    settings.DEFAULT_FROM_EMAIL = "Old Name <sales@nordlys.example>"
    Organisation.objects.filter(pk=organisation_get().pk).update(name="Nordlys, Oslo & Bergen")
    organisation_changed()

    services.digest_send(user=alice, day=today)

    message = mail.outbox[0]
    assert message.from_email == '"Nordlys, Oslo & Bergen" <sales@nordlys.example>'
    assert message.message()["From"] == '"Nordlys, Oslo & Bergen" <sales@nordlys.example>'


def test_a_name_beyond_ascii_is_encoded_once_in_the_sender(alice, busy_day, today, settings):
    settings.DEFAULT_FROM_EMAIL = "crm@nordlys.example"
    Organisation.objects.filter(pk=organisation_get().pk).update(name="Müller & Søn")
    organisation_changed()

    services.digest_send(user=alice, day=today)

    header = mail.outbox[0].message()["From"]
    assert header.endswith(" <crm@nordlys.example>")
    assert str(make_header(decode_header(header))) == "Müller & Søn <crm@nordlys.example>"


def test_skipped_when_there_is_nothing_to_say(alice, today):
    assert services.digest_send(user=alice, day=today) is False

    assert mail.outbox == []


def test_users_without_an_address_or_inactive_get_nothing(alice, busy_day, today):
    alice.email = ""
    alice.save()

    assert services.digest_send(user=alice, day=today) is False
    assert mail.outbox == []
    assert not DigestSent.objects.exists()


def test_a_second_call_the_same_day_sends_nothing(alice, busy_day, today):
    services.digest_send(user=alice, day=today)

    assert services.digest_send(user=alice, day=today) is False

    assert len(mail.outbox) == 1
    assert DigestSent.objects.filter(user=alice).count() == 1


def test_the_next_day_sends_again(alice, busy_day, today):
    services.digest_send(user=alice, day=today)

    # Tomorrow: the contract step is due and the flag is still open.
    assert services.digest_send(user=alice, day=today + timedelta(days=1)) is True

    assert len(mail.outbox) == 2
    assert "Send the contract" in mail.outbox[1].body


def test_a_mail_error_frees_the_claim_so_a_retry_sends(alice, busy_day, today):
    with mock.patch(
        "django.core.mail.EmailMultiAlternatives.send",
        side_effect=smtplib.SMTPServerDisconnected("gone"),
    ):
        with pytest.raises(smtplib.SMTPServerDisconnected):
            services.digest_send(user=alice, day=today)
    assert mail.outbox == []
    assert not DigestSent.objects.exists()

    assert services.digest_send(user=alice, day=today) is True

    assert len(mail.outbox) == 1


def test_the_task_sends_once_for_a_user_and_day(alice, busy_day, today):
    assert tasks.digest_send.run(alice.pk, today.isoformat()) is True
    assert tasks.digest_send.run(alice.pk, today.isoformat()) is False

    assert len(mail.outbox) == 1


def test_the_task_ignores_a_user_who_is_gone_or_inactive(alice, busy_day, today):
    alice.is_active = False
    alice.save()

    assert tasks.digest_send.run(alice.pk, today.isoformat()) is False
    assert tasks.digest_send.run(987654, today.isoformat()) is False
    assert mail.outbox == []


def test_digests_send_queues_one_per_active_user_with_an_address(alice, bob, today):
    UserFactory(username="gone", is_active=False)
    UserFactory(username="noaddress", email="")

    after_the_hour = timezone.make_aware(datetime.combine(today, time(8)))
    with mock.patch.object(tasks, "enqueue", return_value=True) as enqueue:
        queued = tasks.digests_send.run(after_the_hour.isoformat())

    assert queued == 2
    assert sorted(call.args[1:] for call in enqueue.call_args_list) == sorted(
        [(alice.pk, today.isoformat()), (bob.pk, today.isoformat())]
    )
    assert all(call.args[0] is tasks.digest_send for call in enqueue.call_args_list)
    assert mail.outbox == []


def test_digests_wait_for_the_hour_and_queue_each_user_once_a_day(alice, bob, today):
    """Beat polls every quarter hour: nothing before DIGEST_HOUR in the organisation's time
    zone, then each user once (a user whose digest is claimed is not queued again)."""
    before = timezone.make_aware(datetime.combine(today, time(6, 59)))
    after = timezone.make_aware(datetime.combine(today, time(7, 0)))
    with mock.patch.object(tasks, "enqueue", return_value=True) as enqueue:
        assert tasks.digests_send.run(before.isoformat()) == 0
        DigestSent.objects.create(user=alice, date=today)
        assert tasks.digests_send.run(after.isoformat()) == 1

    assert enqueue.call_args_list == [mock.call(tasks.digest_send, bob.pk, today.isoformat())]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_exactly_one(alice, busy_day, today):
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = services.digest_send(user=alice, day=today)
        except Exception as error:  # noqa: BLE001 - the test inspects what happened
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    assert DigestSent.objects.filter(user=alice, date=today).count() == 1
