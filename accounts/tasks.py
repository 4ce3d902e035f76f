"""Celery tasks of accounts: thin, plain values in, one service call."""

from __future__ import annotations

import smtplib

from celery import shared_task

from accounts import services


@shared_task(
    name="accounts.password_reset_send",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    # Someone is waiting for this mail: retry soon, and give up within minutes.
    retry_backoff=10,
    retry_backoff_max=120,
    max_retries=5,
)
def password_reset_send(email: str) -> int:
    """Mail a set-password link to the active users with this address (none: nothing)."""
    return services.password_reset_send(email=email)


@shared_task(
    name="accounts.invitation_send",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=10,
    retry_backoff_max=120,
    max_retries=5,
)
def invitation_send(invitation_id: int) -> bool:
    """Mail an invitation's link (accepted or revoked meanwhile: nothing)."""
    return services.invitation_send(invitation_id=invitation_id)
