from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in. Roles come from memberships, never from this row."""

    class Meta:
        ordering = ["first_name", "last_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def initials(self) -> str:
        parts = [p for p in (self.first_name, self.last_name) if p]
        if parts:
            return "".join(p[0] for p in parts).upper()[:2]
        return self.username[:2].upper()


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
