"""Writes for users, teams and memberships, and the sign-in throttle's bookkeeping.

Every service here assumes the caller passed the settings door (`settings_access`: admins
only); the rules that depend on the values (the last admin, self-deactivation, who may take
over a leaver's deals) are checked here, inside the transaction that writes.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts import selectors
from accounts.access import access_for
from accounts.models import ApiToken, Invitation, LoginFailure, Membership, Role, Team, User
from accounts.security import security_event
from accounts.selectors import live_work_team_ids
from accounts.tokens import invitation_token_generator
from crm.broker import enqueue, registered_task
from crm.rules import RuleError
from crm.shared import changed as shared_changed
from crm.transactions import atomic_with_retry

logger = logging.getLogger(__name__)

LIVE_DEAL_STATUSES = ("open", "paused")


class UserRuleError(RuleError):
    """A change the rules refuse; `field` names the form field it belongs to, if any."""


# --- sign-in throttle ---------------------------------------------------------------------


def login_failure_record(*, username: str, address: str | None) -> None:
    """Count one failed sign-in, and forget failures older than a day (cheap, indexed)."""
    now = timezone.now()
    LoginFailure.objects.create(username=username.lower()[:150], address=address, at=now)
    LoginFailure.objects.filter(at__lt=now - timedelta(days=1)).delete()


def login_failures_clear(*, username: str) -> None:
    """A successful sign-in wipes the account's failures (not the address's)."""
    LoginFailure.objects.filter(username=username.lower()[:150]).delete()


# --- password reset by e-mail -------------------------------------------------------------


@transaction.atomic
def password_reset_request(*, email: str, address: str | None) -> bool:
    """Someone on the sign-in page asked for a link for `email`. Counted in the throttle
    (every request, throttled or not, whether or not the address exists, so the throttle
    tells nothing); unless throttled, the mail is queued on commit. Returns whether a mail
    was queued; the caller answers the same either way. Anyone may call it."""
    throttled = selectors.password_reset_is_throttled(email=email, address=address)
    login_failure_record(username=selectors.password_reset_key(email), address=address)
    if throttled:
        return False
    transaction.on_commit(lambda: _password_reset_enqueue(email=email))
    return True


def _password_reset_enqueue(*, email: str) -> None:
    """Hand the mail to the worker, so the answer takes as long whether or not a user has the
    address (sending inline would time the mail server for existing ones). With the broker
    down, send it here instead: a slower answer beats a lost link."""
    try:
        registered_task("accounts.password_reset_send").apply_async(args=[email], retry=False)
    except Exception:  # noqa: BLE001 - any broker failure
        logger.warning("password_reset_send could not be queued; sending in the request")
        password_reset_send(email=email)


def password_reset_users(*, email: str) -> list[User]:
    """The active users with this e-mail address (case-insensitive). Users who never chose
    a password (an invitation that expired) are included: the link lets them choose one."""
    return list(User.objects.filter(email__iexact=email, is_active=True).order_by("pk"))


def password_reset_send(*, email: str) -> int:
    """Mail a one-time set-password link (SITE_URL) to each active user with this address;
    returns how many were sent. Writes nothing. Not idempotent in the strict sense: a second
    run mails a second link, and each link works until a password is chosen."""
    from crm.languages import language_for_user
    from crm.mail import sender
    from crm.organisation import organisation_get

    sent = 0
    for user in password_reset_users(email=email):
        # In the account holder's language, whoever typed the address.
        with translation.override(language_for_user(user)):
            context = {
                "user": user,
                "link": set_password_link(user=user),
                "organisation_name": organisation_get().name,
                "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
            }
            subject = render_to_string("registration/password_reset_subject.txt", context)
            body = render_to_string("registration/password_reset_email.txt", context)
        send_mail(" ".join(subject.split()), body, sender(), [user.email])
        security_event("password_reset_sent", user_id=user.pk)
        sent += 1
    return sent


# --- users --------------------------------------------------------------------------------


def set_password_path(*, user: User) -> str:
    """The one-time set-password path for `user` (Django's password reset token: it stops
    working once the password is set, at the next sign-in, or after PASSWORD_RESET_TIMEOUT)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password-set", kwargs={"uidb64": uid, "token": token})


def set_password_link(*, user: User) -> str:
    """The set-password path as an absolute link (SITE_URL), for a mail or to pass on."""
    from crm.mail import absolute_url

    return absolute_url(set_password_path(user=user))


def _send_set_password_mail(*, user: User, link: str, invited_by: User) -> None:
    if not user.email:
        return
    from crm.languages import language_for_user
    from crm.mail import sender
    from crm.organisation import organisation_get

    # In the new user's language (the organisation's until they choose), not the admin's.
    with translation.override(language_for_user(user)):
        subject = _("Your account at %(name)s") % {"name": organisation_get().name}
        body = _(
            "Hello %(name)s,\n\n%(admin)s has given you an account on the CRM.\n"
            "Your user name is: %(username)s\n\nChoose your password here (the link works "
            "once):\n%(link)s\n"
        ) % {"name": user, "admin": invited_by, "username": user.username, "link": link}
    try:
        send_mail(subject, body, sender(), [user.email])
    except Exception:  # noqa: BLE001 - the admin has the link on screen anyway
        logger.exception("Could not send the set-password mail to user %s", user.pk)


def _lock_admins() -> None:
    """Lock the admin memberships (pk order) before any other row: every change that could
    take away an admin goes through this, so two admins demoting each other at once are
    serialised and the second sees the first's change, and taking this lock first means
    no deadlock with the row locks that follow."""
    list(
        Membership.objects.select_for_update(no_key=True)
        .filter(role=Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _check_admin_remains(*, user: User, losing_admin: bool) -> None:
    """Refuse a change that would leave the organisation without an active admin. Call
    after `_lock_admins()`."""
    if not losing_admin:
        return
    others = (
        User.objects.filter(is_active=True)
        .filter(Q(memberships__role=Role.ADMIN) | Q(is_superuser=True))
        .exclude(pk=user.pk)
    )
    if not others.exists():
        raise UserRuleError(_("The organisation needs at least one active admin."))


def _is_admin(user: User) -> bool:
    return user.is_superuser or user.memberships.filter(role=Role.ADMIN).exists()


@atomic_with_retry
def user_create(
    *,
    acting_user: User,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    team: Team,
    role: str,
    password: str | None,
) -> User:
    """Create a user with one membership. With `password` None the user gets an unusable
    password and signs in only after choosing one through a set-password link (see
    `user_invite`). Not idempotent: a second call with the same username is refused."""
    if User.objects.filter(username__iexact=username).exists():
        raise UserRuleError(_("That user name is taken."), field="username")
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    Membership.objects.create(user=user, team=team, role=role)
    security_event("user_created", user_id=user.pk, by=acting_user.pk, role=role)
    return user


@atomic_with_retry
def user_invite(
    *,
    acting_user: User,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    team: Team,
    role: str,
) -> tuple[User, str]:
    """Create a user without a password and return them with a one-time set-password link;
    the link is also mailed to them (after commit) when they have an address."""
    user = user_create(
        acting_user=acting_user,
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        team=team,
        role=role,
        password=None,
    )
    link = set_password_link(user=user)
    transaction.on_commit(
        lambda: _send_set_password_mail(user=user, link=link, invited_by=acting_user)
    )
    return user, link


def user_password_link(*, acting_user: User, user: User) -> str:
    """A fresh set-password link for an active user who forgot theirs (mailed too). The
    current password keeps working until a new one is chosen. Writes nothing."""
    if not user.is_active:
        raise UserRuleError(_("Reactivate the user first."))
    link = set_password_link(user=user)
    security_event("password_link_created", user_id=user.pk, by=acting_user.pk)
    _send_set_password_mail(user=user, link=link, invited_by=acting_user)
    return link


def _save_changes(current, **changes) -> bool:
    """Set the fields that differ on the locked row and save only those; False (no write)
    when none differs."""
    changed = [key for key, value in changes.items() if getattr(current, key) != value]
    if not changed:
        return False
    for key in changed:
        setattr(current, key, changes[key])
    current.save(update_fields=changed)
    return True


@atomic_with_retry
def user_update(
    *, acting_user: User, user: User, first_name: str, last_name: str, email: str
) -> bool:
    """Change a user's name and e-mail. Returns False (and writes nothing) when nothing
    changed. Username, password, roles and active state have their own services."""
    current = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if not _save_changes(current, first_name=first_name, last_name=last_name, email=email):
        return False
    shared_changed("labels")  # reports name people
    return True


@dataclass(frozen=True)
class Handover:
    """What a deactivation moved: live deals, companies and open activities."""

    deals: int = 0
    companies: int = 0
    activities: int = 0


def can_take_over(*, candidate: User, team_ids: set[int]) -> bool:
    """An active admin may own anything; anyone else must be in every team concerned."""
    if not candidate.is_active:
        return False
    if _is_admin(candidate):
        return True
    member_of = set(candidate.memberships.values_list("team_id", flat=True))
    return team_ids <= member_of


@atomic_with_retry
def user_deactivate(*, acting_user: User, user: User, reassign_to: User | None = None) -> Handover:
    """Deactivate `user`: they can no longer sign in and their sessions stop working at the
    next request (the auth backend refuses inactive users). Nothing is deleted.

    Their open and paused deals and the companies they own go to `reassign_to` (an active
    user in every team concerned, or an admin) or, with None, to nobody; their open
    activities follow the deal's new owner. Won and lost deals keep their owner: the history
    and the per-rep reports stay true. Deals change set-based, locked in pk order, with their
    version bumped so an edit form opened before cannot undo the handover. StageTotal and
    flags do not key on the owner, so they need no change.

    Idempotent: an inactive user is left as is and nothing is moved.
    """
    from crm.models import Company
    from pipeline.models import Activity, Deal

    _lock_admins()
    current = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if current.pk == acting_user.pk:
        raise UserRuleError(_("You cannot deactivate yourself."))
    if not current.is_active:
        return Handover()
    _check_admin_remains(user=current, losing_admin=_is_admin(current))
    if reassign_to is not None:
        if reassign_to.pk == current.pk or not can_take_over(
            candidate=reassign_to, team_ids=live_work_team_ids(member=current)
        ):
            raise UserRuleError(
                _("Choose an active member of the teams these deals belong to."),
                field="reassign_to",
            )
    new_owner_id = reassign_to.pk if reassign_to else None

    deal_ids = list(
        Deal.objects.select_for_update(no_key=True)
        .filter(owner=current, status__in=LIVE_DEAL_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    deals = Deal.objects.filter(pk__in=deal_ids).update(
        owner_id=new_owner_id, version=F("version") + 1, updated_at=timezone.now()
    )
    company_ids = list(
        Company.objects.select_for_update(no_key=True)
        .filter(owner=current)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    companies = Company.objects.filter(pk__in=company_ids).update(
        owner_id=new_owner_id, updated_at=timezone.now()
    )
    # Open activities go to whoever now owns the deal; the deal's copy of its next step's
    # assignee follows.
    activities = Activity.objects.filter(
        assignee=current, done_at__isnull=True, deal__status__in=LIVE_DEAL_STATUSES
    ).update(assignee_id=Subquery(Deal.objects.filter(pk=OuterRef("deal_id")).values("owner_id")))
    Deal.objects.filter(next_step_assignee=current, status__in=LIVE_DEAL_STATUSES).update(
        next_step_assignee_id=Subquery(
            Activity.objects.filter(pk=OuterRef("next_step_id")).values("assignee_id")
        )
    )
    current.is_active = False
    current.save(update_fields=["is_active"])
    security_event(
        "user_deactivated",
        user_id=current.pk,
        by=acting_user.pk,
        reassigned_to=new_owner_id or "nobody",
        deals=deals,
        companies=companies,
    )
    return Handover(deals=deals, companies=companies, activities=activities)


@atomic_with_retry
def user_reactivate(*, acting_user: User, user: User) -> bool:
    """Let a deactivated user sign in again, with the memberships they had. Deals handed
    over stay with their new owners. Idempotent: False when already active. Someone invited
    who has not accepted yet is not deactivated: they become active by accepting."""
    current = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if current.is_active:
        return False
    if Invitation.objects.pending().filter(user=current).exists():
        raise UserRuleError(_("They have not accepted their invitation yet."))
    current.is_active = True
    current.save(update_fields=["is_active"])
    security_event("user_reactivated", user_id=current.pk, by=acting_user.pk)
    return True


# --- teams and memberships ----------------------------------------------------------------


@atomic_with_retry
def team_create(*, acting_user: User, name: str, own_deals_only: bool = False) -> Team:
    """Create a team. Team names are unique, compared without case."""
    if Team.objects.filter(name__iexact=name).exists():
        raise UserRuleError(_("A team with that name exists."), field="name")
    return Team.objects.create(name=name, own_deals_only=own_deals_only)


@atomic_with_retry
def team_update(*, acting_user: User, team: Team, name: str, own_deals_only: bool) -> bool:
    """Rename a team or change its visibility mode. False (no write) when nothing changed."""
    current = Team.objects.select_for_update(no_key=True).get(pk=team.pk)
    if Team.objects.filter(name__iexact=name).exclude(pk=current.pk).exists():
        raise UserRuleError(_("A team with that name exists."), field="name")
    if not _save_changes(current, name=name, own_deals_only=own_deals_only):
        return False
    shared_changed("labels")  # reports name teams
    return True


@atomic_with_retry
def membership_set(*, acting_user: User, user: User, team: Team, role: str) -> Membership:
    """Put `user` in `team` with `role`, or change their role there. Refuses to take away the
    last active admin's admin role. Idempotent: the same role twice writes nothing."""
    if role not in Role.values:
        raise UserRuleError(_("Choose a role."), field="role")
    _lock_admins()
    existing = (
        Membership.objects.select_for_update(no_key=True).filter(user=user, team=team).first()
    )
    if existing is None:
        membership = Membership.objects.create(user=user, team=team, role=role)
        security_event("membership_added", user_id=user.pk, team_id=team.pk, role=role)
        return membership
    if existing.role == role:
        return existing
    other_admin_roles = (
        Membership.objects.filter(user=user, role=Role.ADMIN).exclude(pk=existing.pk).exists()
    )
    losing_admin = existing.role == Role.ADMIN and not other_admin_roles and not user.is_superuser
    _check_admin_remains(user=user, losing_admin=losing_admin)
    existing.role = role
    existing.save(update_fields=["role"])
    security_event("role_changed", user_id=user.pk, team_id=team.pk, role=role, by=acting_user.pk)
    return existing


@atomic_with_retry
def membership_remove(*, acting_user: User, membership: Membership) -> bool:
    """Take a user out of a team. Their deals there keep their owner (a manager or admin can
    reassign them). Refuses to remove the last active admin. False when already gone."""
    _lock_admins()
    current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
    if current is None:
        return False
    user = current.user
    other_admin_roles = (
        Membership.objects.filter(user=user, role=Role.ADMIN).exclude(pk=current.pk).exists()
    )
    losing_admin = current.role == Role.ADMIN and not other_admin_roles and not user.is_superuser
    _check_admin_remains(user=user, losing_admin=losing_admin)
    current.delete()
    security_event(
        "membership_removed", user_id=user.pk, team_id=current.team_id, by=acting_user.pk
    )
    return True


# --- invitations --------------------------------------------------------------------------


def _free_username(wanted: str, *, exclude_pk: int | None = None) -> str:
    """`wanted` cut to a valid user name, with a number added until nobody else has it."""
    base = "".join(c for c in wanted.lower() if c.isalnum() or c in "@.+-_")[:140] or "user"
    taken = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    candidate, number = base, 1
    while taken.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}{number}"
    return candidate


def invitation_username_suggestion(*, user: User) -> str:
    """What the invitation page offers as the user name: the address's part before the @,
    made unique ("ann", "ann2")."""
    return _free_username(user.email.split("@", 1)[0], exclude_pk=user.pk)


@atomic_with_retry
def invitation_create(*, acting_user: User, email: str, team: Team, role: str) -> Invitation:
    """Invite `email` into `team` with `role`: an inactive user (no password; the address is
    their user name until they choose one) with that membership, and an invitation whose
    link is mailed after commit (`invitation_send`, through the worker; in the request when
    the broker is down). Refused when anyone has the address already (a user or another
    invitation: resend that one). Assumes the caller passed the settings door (admins)."""
    email = (email or "").strip()
    if not email or len(email) > 254:
        raise UserRuleError(_("Enter an e-mail address."), field="email")
    if role not in Role.values:
        raise UserRuleError(_("Choose a role."), field="role")
    if User.objects.filter(email__iexact=email).exists():
        raise UserRuleError(
            _("Someone with this e-mail address has an account or an invitation already."),
            field="email",
        )
    user = User(username=_free_username(email), email=email, is_active=False)
    user.set_unusable_password()
    user.save()
    Membership.objects.create(user=user, team=team, role=role)
    invitation = Invitation.objects.create(
        user=user, invited_by=acting_user, sent_at=timezone.now()
    )
    security_event(
        "invitation_created", user_id=user.pk, by=acting_user.pk, team_id=team.pk, role=role
    )
    transaction.on_commit(lambda: _invitation_queue(invitation_id=invitation.pk))
    return invitation


def _lock_pending(invitation: Invitation) -> Invitation | None:
    current = (
        Invitation.objects.select_for_update(no_key=True)
        .select_related("user")
        .filter(pk=invitation.pk)
        .first()
    )
    if current is None or not current.is_pending:
        return None
    return current


@atomic_with_retry
def invitation_resend(*, acting_user: User, invitation: Invitation) -> Invitation:
    """Mail a fresh link; every link sent before stops working (`sent_at` is signed into it).
    Refused when the invitation was accepted or revoked meanwhile."""
    current = _lock_pending(invitation)
    if current is None:
        raise UserRuleError(_("This invitation was accepted or revoked meanwhile."))
    current.sent_at = timezone.now()
    current.save(update_fields=["sent_at"])
    security_event("invitation_resent", user_id=current.user_id, by=acting_user.pk)
    transaction.on_commit(lambda: _invitation_queue(invitation_id=current.pk))
    return current


@atomic_with_retry
def invitation_revoke(*, acting_user: User, invitation: Invitation) -> bool:
    """Withdraw a pending invitation: the invited, never-used account goes with it, so its
    links lead nowhere. Idempotent: False when it is already gone; refused when accepted."""
    current = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if current is None:
        return False
    if not current.is_pending:
        raise UserRuleError(_("This invitation was accepted meanwhile: deactivate the user."))
    user_id = current.user_id
    # The user row carries the membership and the invitation with it (CASCADE); nothing else
    # can point at someone who never signed in and is offered nowhere (inactive).
    User.objects.filter(pk=user_id, is_active=False).delete()
    security_event("invitation_revoked", user_id=user_id, by=acting_user.pk)
    return True


@atomic_with_retry
def invitation_accept(
    *, user: User, username: str, first_name: str, last_name: str, password: str
) -> User:
    """The invited person chose their user name, name and password through a valid link
    (checked by the caller with `accounts.selectors.invitation_user_for_link`): they become an
    active user with the membership the invitation gave them. Refused when the invitation was
    accepted or revoked meanwhile, or the user name is taken. Single use: the password and
    the active flag are signed into the link."""
    current = User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()
    invitation = Invitation.objects.select_for_update(no_key=True).filter(user_id=user.pk).first()
    if current is None or invitation is None or not invitation.is_pending or current.is_active:
        raise UserRuleError(_("This invitation no longer works. Ask your admin for a new one."))
    if User.objects.filter(username__iexact=username).exclude(pk=current.pk).exists():
        raise UserRuleError(_("That user name is taken."), field="username")
    current.username = username
    current.first_name = first_name
    current.last_name = last_name
    current.is_active = True
    current.set_password(password)
    current.save()
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    security_event("invitation_accepted", user_id=current.pk)
    return current


def invitation_link(*, invitation: Invitation) -> str:
    """The invitation's link as it is mailed (SITE_URL): signed, expiring, single use."""
    from crm.mail import absolute_url

    user = invitation.user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = invitation_token_generator.make_token(user)
    return absolute_url(reverse("invitation-accept", kwargs={"uidb64": uid, "token": token}))


def _invitation_queue(*, invitation_id: int) -> None:
    """Hand the mail to the worker; with the broker down, send it here (after commit, with
    EMAIL_TIMEOUT): the admin's page must not break, and a slower answer beats a lost
    invitation. A mail that still fails is logged; the admin can resend."""
    if enqueue("accounts.invitation_send", invitation_id):
        return
    try:
        invitation_send(invitation_id=invitation_id)
    except Exception:  # noqa: BLE001 - the invitation stands; Resend tries again
        logger.exception("Could not send invitation %s", invitation_id)


def invitation_send(*, invitation_id: int) -> bool:
    """Mail the invitation's current link, in the invited person's language (the
    organisation's until they choose), from the organisation. Nothing when it was accepted
    or revoked meanwhile (returns False). Writes nothing; a second run mails the same, still
    valid, link again."""
    from crm.mail import sender
    from crm.organisation import organisation_get

    invitation = (
        Invitation.objects.pending()
        .select_related("user", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        return False
    user = invitation.user
    membership = user.memberships.select_related("team").first()
    organisation = organisation_get()
    from crm.languages import language_for_user

    # The invited person's language: the organisation's, unless the row already has one.
    with translation.override(language_for_user(user)):
        context = {
            "organisation_name": organisation.name,
            "invited_by": invitation.invited_by,
            "team": membership.team.name if membership else "",
            "role": membership.get_role_display() if membership else "",
            "link": invitation_link(invitation=invitation),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        }
        subject = render_to_string("registration/invitation_subject.txt", context)
        body = render_to_string("registration/invitation_email.txt", context)
    send_mail(" ".join(subject.split()), body, sender(), [user.email])
    security_event("invitation_sent", user_id=user.pk)


# --- personal API tokens ------------------------------------------------------------------

# Enough for every script and integration a person runs; a runaway loop creating tokens is
# stopped here instead of filling the table.
API_TOKENS_PER_USER = 20
# last_used_at is written at most this often per token, so reading the API is not a write
# per request.
API_TOKEN_TOUCH_SECONDS = 60


@atomic_with_retry
def api_token_create(
    *, acting_user: User | None, user: User, name: str, expires_at=None
) -> tuple[ApiToken, str]:
    """Make a personal API token for `user` and return it with its secret, which is not
    stored (only its digest) and so can be shown this once.

    Tokens are personal: `acting_user` must be `user` (an admin may revoke anyone's token but
    make only their own); None is the operator at the server (`manage.py api_token`). Refused
    for a deactivated user, an expiry in the past and beyond API_TOKENS_PER_USER live tokens.
    Not idempotent: each call makes one more token."""
    if acting_user is not None and acting_user.pk != user.pk:
        raise PermissionDenied
    now = timezone.now()
    current = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if not current.is_active:
        raise UserRuleError(_("A deactivated user cannot have API tokens."))
    name = name.strip()
    if not name or len(name) > 100:
        raise UserRuleError(_("Give the token a name of at most 100 characters."), field="name")
    if expires_at is not None and expires_at <= now:
        raise UserRuleError(_("Pick an expiry date in the future."), field="expires")
    live = ApiToken.objects.filter(user=current, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if live.count() >= API_TOKENS_PER_USER:
        raise UserRuleError(
            _("You have %(count)d API tokens already. Revoke one you no longer use first.")
            % {"count": API_TOKENS_PER_USER}
        )
    secret = selectors.API_TOKEN_START + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=current,
        name=name,
        prefix=secret[: len(selectors.API_TOKEN_START) + 6],
        digest=selectors.api_token_digest(secret),
        expires_at=expires_at,
    )
    security_event(
        "api_token_created",
        user_id=current.pk,
        api_key_id=token.pk,
        by=acting_user.pk if acting_user is not None else "operator",
    )
    return token, secret


@atomic_with_retry
def api_token_revoke(*, acting_user: User | None, token: ApiToken) -> bool:
    """Revoke a token: it stops working at the next request. The owner or an admin (the
    caller loaded it through `api_token_get_for_user`; None is the operator). Idempotent:
    False when it was revoked already."""
    if acting_user is not None and acting_user.pk != token.user_id:
        if not access_for(acting_user).is_admin:
            raise PermissionDenied
    current = ApiToken.objects.select_for_update(no_key=True).get(pk=token.pk)
    if current.revoked_at is not None:
        return False
    current.revoked_at = timezone.now()
    current.revoked_by = acting_user
    current.save(update_fields=["revoked_at", "revoked_by"])
    token.revoked_at = current.revoked_at
    security_event(
        "api_token_revoked",
        user_id=current.user_id,
        api_key_id=current.pk,
        by=acting_user.pk if acting_user is not None else "operator",
    )
    return True


def api_token_touch(*, token: ApiToken, now=None) -> bool:
    """Remember that the token was used now, at most once per API_TOKEN_TOUCH_SECONDS (one
    conditional UPDATE, outside any transaction: losing a race only loses a timestamp).
    Returns whether it wrote."""
    now = now or timezone.now()
    last = token.last_used_at
    if last is not None and (now - last).total_seconds() < API_TOKEN_TOUCH_SECONDS:
        return False
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
    return True


# --- language -----------------------------------------------------------------------------


def user_language_set(*, acting_user: User, user: User, language: str) -> bool:
    """Set a user's own language ("" = not chosen: the browser's, then the organisation's).
    Only for oneself. One UPDATE, none when nothing changes (returns whether it changed).
    Idempotent."""
    from crm.languages import is_supported

    if acting_user.pk != user.pk:
        raise PermissionDenied
    if language and not is_supported(language):
        raise UserRuleError(_("Choose one of the languages offered."), field="language")
    if user.language == language:
        return False
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language
    return True
