from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


def person_name(first_name: str, last_name: str, username: str) -> str:
    """How a person is named on a page: the full name, else the username. Also for rows read
    as plain values (board cards), without a User instance."""
    return f"{first_name} {last_name}".strip() or username


def person_initials(first_name: str, last_name: str, username: str) -> str:
    parts = [p for p in (first_name, last_name) if p]
    if parts:
        return "".join(p[0] for p in parts).upper()[:2]
    return username[:2].upper()


class User(AbstractUser):
    """A person who signs in. Roles come from memberships, never from this row."""

    # The interface's and their mail's language; blank until they choose (then the browser's
    # Accept-Language decides, then the organisation's default: crm/languages.py).
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]

    def __str__(self) -> str:
        return person_name(self.first_name, self.last_name, self.username)

    @property
    def initials(self) -> str:
        return person_initials(self.first_name, self.last_name, self.username)


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    own_deals_only = models.BooleanField(
        _("salespeople see only their own deals"),
        default=False,
        help_text=_("Salespeople in this team see their own and unassigned deals only."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    SALESPERSON = "salesperson", _("Salesperson")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} · {self.team} · {self.get_role_display()}"


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> InvitationQuerySet:
        return self.filter(accepted_at__isnull=True)


class Invitation(models.Model):
    """An e-mailed invitation to join: the invited person is an inactive user with a
    membership (team and role) from the start, and becomes active when they accept through
    the mailed link (accounts.tokens.invitation_token_generator), choosing their name and
    password. `sent_at` is part of the link's signature: a resend makes older links useless.
    Revoking deletes the never-used account with it."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="invitation")
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-pk"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return self.user.email

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None


class LoginFailure(models.Model):
    """One failed sign-in, kept for the throttling window (docs/reliability.md: login throttling
    lives in the database, not in Redis). `username` is what was typed, lower-cased, whether
    or not such a user exists; `address` is the client address as the settings trust it."""

    username = models.CharField(max_length=150)
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="loginfailure_username_at"),
            models.Index(fields=["address", "at"], name="loginfailure_address_at"),
            models.Index(fields=["at"], name="loginfailure_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.address} at {self.at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A personal API token: acts with exactly its user's rights (docs/reliability.md, "Public
    doors"). Only a SHA-256 digest of the secret is stored; the secret itself is shown once,
    when the token is made. `prefix` (the secret's first characters) lets people tell their
    tokens apart in lists. Revoked tokens are kept, with when, for the security log's sake."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="apitoken_user_revoked")]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable_at(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
