"""In-app notifications and the daily email digest."""

from __future__ import annotations

from datetime import date

from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from crm.languages import language_for_user
from crm.mail import absolute_url, sender
from crm.web.formats import format_date
from pipeline.models import DigestSent, Flag, Notification, NotificationKind


def notification_mark_read(*, user: User, notification_id: int) -> bool:
    """Mark one of the user's own notifications read. Idempotent; another user's notification
    is treated as missing (returns False)."""
    updated = Notification.objects.filter(
        pk=notification_id, user=user, read_at__isnull=True
    ).update(read_at=timezone.now())
    return bool(updated) or Notification.objects.filter(pk=notification_id, user=user).exists()


def notifications_mark_all_read(*, user: User) -> int:
    """Mark all of the user's notifications read. Idempotent."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def flag_summaries_prune(*, times: list) -> int:
    """Delete the flag scans' summaries, of those written at `times`, that no longer have a
    deal of their recipient flagged then (after the deals were removed, e.g. an import undone).
    Returns how many were deleted."""
    if not times:
        return 0
    still_about = Flag.objects.filter(
        raised_at=OuterRef("created_at"), deal__owner_id=OuterRef("user_id")
    )
    return (
        Notification.objects.filter(kind=NotificationKind.FLAGS_RAISED, created_at__in=times)
        .filter(~Exists(still_about))
        .delete()[0]
    )


def _claim(user: User, day: date) -> DigestSent | None:
    """Claim the (user, day) digest; None when someone (another beat, a redelivered task)
    claimed it first. The unique constraint decides, in its own committed transaction."""
    try:
        with transaction.atomic():
            return DigestSent.objects.create(user=user, date=day)
    except IntegrityError:
        return None


def digest_send(*, user: User, day: date | None = None) -> bool:
    """Send the user's daily digest (flagged deals and today's next steps) at most once per
    day; skipped when there is nothing to say (the day stays claimed, so a redelivered task
    does not look again). The e-mail goes out after the claim commits, so no transaction waits
    on the mail server; any error before the message is handed over frees the claim for a
    retry. A connection lost after the server accepted the message can, on retry, send it
    twice: a rare duplicate is better than a missing digest. Returns whether one was sent."""
    from pipeline.selectors.digest import digest_for_user

    day = day or timezone.localdate()
    if not user.email or not user.is_active:
        return False
    claim = _claim(user, day)
    if claim is None:
        return False
    try:
        digest = digest_for_user(user=user, day=day)
        if digest.is_empty:
            return False
        # The recipient's language and formats, whatever process sends it.
        with translation.override(language_for_user(user)):
            context = {
                "user": user,
                "digest": digest,
                "day": day,
                # Links start with SITE_URL: a task has no request to take a host from.
                "site_url": absolute_url(""),
                "board_url": absolute_url(reverse("home")),
            }
            message = EmailMultiAlternatives(
                subject=_("Your pipeline for %(day)s") % {"day": format_date(day, "long")},
                body=render_to_string("pipeline/email/digest.txt", context),
                from_email=sender(),
                to=[user.email],
            )
            message.attach_alternative(
                render_to_string("pipeline/email/digest.html", context), "text/html"
            )
        message.send()
    except Exception:
        claim.delete()  # let the retry (with backoff) try again
        raise
    DigestSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
    return True
