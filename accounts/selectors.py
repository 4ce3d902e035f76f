"""Reads about people and teams, and the access doors of the settings pages. The rule of who
may see and change what is `accounts.access`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from accounts.access import access_for
from accounts.models import ApiToken, Invitation, LoginFailure, Membership, Role, Team, User
from accounts.tokens import invitation_token_generator
from crm.collation import by_name
from crm.compiled import CompiledQuery
from crm.models import Company
from pipeline.models import Activity, Deal, Pipeline


def settings_access(*, user: User) -> None:
    """The door to every settings page: admins only; anyone else signed in gets 403.

    Settings objects (pipelines, stages, teams, users) are organisation-wide, so for a
    settings page there is no "another team's record": a non-admin is refused, not misled.
    Object doors on settings pages still answer 404 for an id that does not exist.
    """
    if not access_for(user).is_admin:
        raise PermissionDenied


@dataclass(frozen=True)
class SetUp:
    """How far the organisation is set up, as this user sees it. Pages that need a team (or a
    pipeline) show the first-run card instead of an empty page or a 404 until it is."""

    is_admin: bool
    has_team: bool
    has_pipeline: bool


def setup_for_user(*, user: User) -> SetUp:
    """Read from the user's Access (no query) for anyone in a team with a pipeline; an admin
    sees every team, members or not, so one without one asks the database (a fresh install:
    the admin made by `createsuperuser` is in no team)."""
    access = access_for(user)
    has_team = bool(access.team_ids)
    has_pipeline = any(access.team_pipeline_ids.values())
    if access.is_admin and not has_pipeline:
        has_pipeline = Team.objects.filter(pipelines__isnull=False).exists()
        has_team = has_team or has_pipeline or Team.objects.exists()
    return SetUp(is_admin=access.is_admin, has_team=has_team, has_pipeline=has_pipeline)


def teams_for_user(*, user: User):
    """Teams the user belongs to (all teams for an admin)."""
    access = access_for(user)
    if access.is_admin:
        return Team.objects.all()
    return Team.objects.filter(pk__in=access.team_ids)


def users_visible_to(*, user: User):
    """People the user may pick as owner or filter by: members of the teams they see."""
    access = access_for(user)
    qs = User.objects.filter(is_active=True)
    if not access.is_admin:
        qs = qs.filter(memberships__team_id__in=access.team_ids).distinct()
    return qs.order_by(*by_name("first_name", "last_name", "username"))


def editable_rep_ids(*, user: User, rep_ids: list[int]) -> set[int]:
    """Which of `rep_ids` (people the user sees) the user may set the numbers of: the rule is
    `Access.editable_rep_ids`; the memberships it needs are read only for someone who manages
    some of their teams and sells in others (one query)."""
    access = access_for(user)
    managed_member_ids: list[int] = []
    if access.manages_some_teams_only:
        managed_member_ids = list(
            Membership.objects.filter(
                team_id__in=access.managed_team_ids, user_id__in=rep_ids
            ).values_list("user_id", flat=True)
        )
    return access.editable_rep_ids(rep_ids, managed_member_ids=managed_member_ids)


def users_of_team(*, team_id: int):
    return (
        User.objects.filter(is_active=True, memberships__team_id=team_id)
        .distinct()
        .order_by(*by_name("first_name", "last_name", "username"))
    )


# The board's owner filter, on every board page: compiled once per process and language (the
# names' collation is the language's), prepared (crm/compiled.py).
PEOPLE_OF_TEAM = CompiledQuery(User, users_of_team, "team_id", per_language=True, prepare=True)


def people_of_team(*, team_id: int) -> list[User]:
    """`users_of_team`, as a list, by a query compiled once per process."""
    return PEOPLE_OF_TEAM.fetch(team_id=team_id)


# --- sign-in throttle ---------------------------------------------------------------------


# Password-reset requests are kept in the sign-in throttle's table under this prefix: a colon
# is never part of a user name, so the two kinds of rows cannot be mistaken for each other.
PASSWORD_RESET_PREFIX = "password-reset:"


# Wrong first-run set-up tokens are counted in the same table under this key (crm.views.setup).
SETUP_TOKEN_KEY = "setup-token:"


def password_reset_key(email: str) -> str:
    """The throttle row's key for reset requests to `email` (lower-cased, as typed)."""
    return (PASSWORD_RESET_PREFIX + email.lower())[:150]


def _is_throttled(*, key: str, address: str | None, address_rows) -> bool:
    since = timezone.now() - timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    recent = LoginFailure.objects.filter(at__gte=since)
    if recent.filter(username=key).count() >= settings.LOGIN_FAILURE_LIMIT:
        return True
    if address is None:
        return False
    by_address = address_rows(recent.filter(address=address))
    return by_address.count() >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


def login_is_throttled(*, username: str, address: str | None) -> bool:
    """True when the account, or the address, has reached its failure limit in the window
    (settings LOGIN_FAILURE_LIMIT, LOGIN_ADDRESS_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_MINUTES).
    Two indexed counts; the window slides, so a lock ends by itself. Password-reset requests
    from the address do not count: asking for a link must not lock an office out."""
    return _is_throttled(
        key=username.lower()[:150],
        address=address,
        address_rows=lambda rows: rows.exclude(username__startswith=PASSWORD_RESET_PREFIX).exclude(
            username=SETUP_TOKEN_KEY
        ),
    )


def password_reset_is_throttled(*, email: str, address: str | None) -> bool:
    """True when `email`, or the client address, has asked for as many reset links in the
    window as the sign-in allows failures (the same limits and window), whether or not the
    address belongs to anyone: the throttle must not tell which addresses exist."""
    return _is_throttled(
        key=password_reset_key(email),
        address=address,
        address_rows=lambda rows: rows.filter(username__startswith=PASSWORD_RESET_PREFIX),
    )


def setup_token_is_throttled(*, address: str | None) -> bool:
    """True when the client address typed as many wrong set-up tokens within the sign-in's
    window as the sign-in allows failures per address (LOGIN_ADDRESS_FAILURE_LIMIT). Without
    an address (a misconfigured proxy), every client shares one count."""
    since = timezone.now() - timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    rows = LoginFailure.objects.filter(username=SETUP_TOKEN_KEY, at__gte=since, address=address)
    return rows.count() >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


# --- settings: users and teams ------------------------------------------------------------


def _memberships_with_teams():
    return Prefetch(
        "memberships",
        queryset=Membership.objects.select_related("team").order_by(*by_name("team__name")),
    )


def users_for_settings(*, user: User):
    """Every user, active first, with their memberships and teams (two queries). People
    invited who have not accepted yet are listed apart (`invitations_for_settings`)."""
    settings_access(user=user)
    return (
        User.objects.exclude(invitation__accepted_at__isnull=True, invitation__isnull=False)
        .prefetch_related(_memberships_with_teams())
        .order_by("-is_active", *by_name("first_name", "last_name", "username"))
    )


def invitations_for_settings(*, user: User):
    """Pending invitations, newest first, with the invited user, their team and role and who
    invited them (two queries)."""
    settings_access(user=user)
    return (
        Invitation.objects.pending()
        .select_related("user", "invited_by")
        .prefetch_related(Prefetch("user__memberships", queryset=_memberships_ordered()))
        .order_by("-sent_at", "-pk")
    )


def _memberships_ordered():
    return Membership.objects.select_related("team").order_by(*by_name("team__name"))


def invitations_pending_in_team(*, team: Team | None):
    """Pending invitations into `team`, oldest first, with their users and memberships (the
    set-up's invitation step; it passed its own door)."""
    if team is None:
        return Invitation.objects.none()
    return (
        Invitation.objects.pending()
        .filter(user__memberships__team=team)
        .select_related("user")
        .prefetch_related(Prefetch("user__memberships", queryset=_memberships_ordered()))
        .order_by("sent_at", "pk")
    )


def invitation_get_for_settings(*, user: User, pk: int) -> Invitation:
    """A pending invitation to resend or revoke: admins only (403); unknown, accepted or
    revoked ones 404."""
    settings_access(user=user)
    return get_object_or_404(Invitation.objects.pending().select_related("user"), pk=pk)


def invitation_user_for_link(*, uidb64: str, token: str) -> User | None:
    """The invited user of a link, if the link is genuine, not expired, not used and its
    invitation still pending; None otherwise (the page says so, whatever the reason)."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    invitation = Invitation.objects.pending().select_related("user").filter(user_id=pk).first()
    if invitation is None or invitation.user.is_active:
        return None
    user = invitation.user
    if not invitation_token_generator.check_token(user, token):
        return None
    return user


def user_get_for_settings(*, user: User, pk: int) -> User:
    """A user to edit on the settings pages: admins only (403), unknown ids 404."""
    settings_access(user=user)
    return get_object_or_404(User.objects.prefetch_related(_memberships_with_teams()), pk=pk)


def teams_for_settings(*, user: User):
    """Every team with its member, pipeline and company counts."""
    settings_access(user=user)
    pipelines = Pipeline.objects.filter(team=OuterRef("pk")).values("team")
    companies = Company.objects.filter(team=OuterRef("pk")).values("team")
    return Team.objects.annotate(
        member_count=Count("memberships", filter=Q(memberships__user__is_active=True)),
        pipeline_count=Subquery(pipelines.annotate(n=Count("pk")).values("n")),
        company_count=Subquery(companies.annotate(n=Count("pk")).values("n")),
    ).order_by(*by_name("name"))


def team_get_for_settings(*, user: User, pk: int) -> Team:
    """A team to edit on the settings pages: admins only (403), unknown ids 404."""
    settings_access(user=user)
    return get_object_or_404(Team, pk=pk)


def team_members(*, team: Team):
    """The team's memberships, active people first, with their users."""
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by(
            "-user__is_active", *by_name("user__first_name", "user__last_name", "user__username")
        )
    )


def users_not_in_team(*, team: Team):
    """Active users who could be added to the team."""
    return User.objects.filter(is_active=True).exclude(memberships__team=team)


def membership_get_for_settings(*, user: User, pk: int) -> Membership:
    settings_access(user=user)
    return get_object_or_404(Membership.objects.select_related("user", "team"), pk=pk)


def teams_without_user(*, member: User):
    return Team.objects.exclude(memberships__user=member).order_by(*by_name("name"))


def live_work_team_ids(*, member: User) -> set[int]:
    """Teams of the user's open and paused deals and of the companies they own."""
    deal_teams = Deal.objects.filter(owner=member, status__in=("open", "paused")).values_list(
        "pipeline__team_id", flat=True
    )
    company_teams = Company.objects.filter(owner=member).values_list("team_id", flat=True)
    return set(deal_teams) | set(company_teams)


def user_live_work(*, member: User) -> dict[str, int]:
    """How many open or paused deals, companies and open activities the user holds."""
    live = ("open", "paused")
    return {
        "deals": Deal.objects.filter(owner=member, status__in=live).count(),
        "companies": Company.objects.filter(owner=member).count(),
        "activities": Activity.objects.filter(
            assignee=member, done_at__isnull=True, deal__status__in=live
        ).count(),
    }


def reassign_candidates(*, member: User) -> list[User]:
    """Who may take over a leaver's deals and companies: active users other than the leaver
    who are admins or members of every team the leaver's live deals and companies are in."""
    team_ids = live_work_team_ids(member=member)
    people = (
        User.objects.filter(is_active=True)
        .exclude(pk=member.pk)
        .prefetch_related("memberships")
        .order_by(*by_name("first_name", "last_name", "username"))
    )
    chosen = []
    for person in people:
        roles = {m.team_id: m.role for m in person.memberships.all()}
        if person.is_superuser or Role.ADMIN in roles.values() or team_ids <= set(roles):
            chosen.append(person)
    return chosen


# --- personal API tokens ------------------------------------------------------------------

# The secret's fixed start: it tells a leaked string for what it is (secret scanners, logs).
API_TOKEN_START = "crm_"


def api_token_digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256. The secrets are 256 random bits, so a fast
    hash is enough (no password stretching needed), and the lookup is one indexed equality."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def api_token_for_secret(*, secret: str, now=None) -> ApiToken | None:
    """The usable token with this secret, with its user, or None: unknown, revoked, expired,
    or its user deactivated. One query."""
    if not secret.startswith(API_TOKEN_START) or len(secret) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=api_token_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if not token.is_usable_at(now or timezone.now()):
        return None
    return token


def api_tokens_for_user(*, user: User):
    """The user's tokens not revoked, newest first (expired ones included, marked by their
    date), for their profile page."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by(
        "-created_at", "-pk"
    )


def api_token_get_for_user(*, user: User, pk: int) -> ApiToken:
    """A token the user may revoke: their own, or anyone's for an admin; 404 otherwise
    (another person's token is not even confirmed to exist)."""
    tokens = ApiToken.objects.select_related("user")
    if not access_for(user).is_admin:
        tokens = tokens.filter(user=user)
    return get_object_or_404(tokens, pk=pk)
