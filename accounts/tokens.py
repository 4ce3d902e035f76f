"""The signed, expiring, single-use token of an invitation link.

Django's password-reset token generator (an HMAC under SECRET_KEY with a timestamp, checked
against PASSWORD_RESET_TIMEOUT, i.e. SET_PASSWORD_LINK_HOURS) with its own salt, so a
set-password link's token is never an invitation's, and its own state: the token is made from
the user's password hash and active flag (both change when the invitation is accepted: the
link works once) and the invitation's `sent_at` (a resend makes the older links useless).
"""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator

from accounts.models import Invitation, User


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.tokens.InvitationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        try:
            invitation = user.invitation
        except Invitation.DoesNotExist:
            # No invitation: a value no token was ever made from while there was one.
            return f"{user.pk}:no-invitation:{timestamp}"
        accepted = invitation.accepted_at.timestamp() if invitation.accepted_at else ""
        return (
            f"{user.pk}:{user.password}:{int(user.is_active)}:{user.email}:"
            f"{invitation.sent_at.timestamp()}:{accepted}:{timestamp}"
        )


invitation_token_generator = InvitationTokenGenerator()
