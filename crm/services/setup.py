"""Writes of the first-run set-up (docs/architecture.md, "First run"; the phases are in
`crm.selectors.setup`).

The set-up claims an empty install in one transaction (`setup_claim`: the organisation's
settings and the first admin, who is a superuser as `createsuperuser` would make them), then
the admin creates the first team with its pipeline, invites people and finishes. Each service
locks the organisation row first and checks the phase under that lock, so two browsers (or a
browser and `manage.py setup`) cannot both claim the install: the second is refused with
`SetupAlreadyDone`, which the set-up pages answer with 404, and nothing is written.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Invitation, Role, Team, User
from accounts.security import security_event
from accounts.services import invitation_create, membership_set, team_create
from crm.models import Organisation
from crm.organisation import organisation_get
from crm.rules import RuleError
from crm.selectors.setup import (
    STEP_IMPORT,
    STEP_INVITE,
    STEP_TEAM,
    setup_status,
    setup_token_for_salt,
    setup_token_salt,
)
from crm.services.organisation import organisation_update
from crm.transactions import atomic_with_retry
from pipeline.models import Pipeline
from pipeline.selectors.pipeline_templates import TemplateSummary, template_list
from pipeline.services.pipeline_templates import pipeline_create_from_template

logger = logging.getLogger("crm.setup")


def pipeline_template_options() -> list[TemplateSummary]:
    """The pipelines a set-up can start from: the template catalogue, in the active language
    (key, name, description, stages)."""
    return template_list()


class SetupRuleError(RuleError):
    """A set-up answer the rules refuse; `field` names the form field it belongs to."""


class SetupAlreadyDone(RuleError):
    """The install was claimed (or set up) meanwhile: the set-up is over for this request."""

    status = 404

    def __init__(self, message: str | None = None):
        super().__init__(message or _("This CRM is set up already."))


# --- the token ----------------------------------------------------------------------------

_announced = False


@atomic_with_retry
def setup_token_ensure() -> str | None:
    """The live set-up token, made now if there is none yet (a random salt stored with a
    conditional update, so processes racing to make one all end with the same); None once
    the install is claimed or set up."""
    if not setup_status().unclaimed:
        return None
    organisation_get()  # the row exists from here on
    Organisation.objects.filter(
        pk=1, setup_token_salt="", setup_admin__isnull=True, setup_completed_at__isnull=True
    ).update(setup_token_salt=secrets.token_hex(32))
    salt = setup_token_salt()
    return setup_token_for_salt(salt) if salt else None


@atomic_with_retry
def setup_token_rotate() -> str | None:
    """A new token; the old one stops working at once (a token that leaked). None once the
    install is claimed or set up."""
    if not setup_status().unclaimed:
        return None
    organisation_get()
    Organisation.objects.filter(
        pk=1, setup_admin__isnull=True, setup_completed_at__isnull=True
    ).update(setup_token_salt=secrets.token_hex(32))
    return setup_token_for_salt(setup_token_salt())


def setup_link(*, token: str, base_url: str | None = None) -> str:
    """The address that opens the set-up with `token` (SITE_URL unless told otherwise)."""
    base = (base_url or settings.SITE_URL).rstrip("/")
    return f"{base}{reverse('setup')}?token={token}"


def setup_token_announce() -> None:
    """Write the set-up link to this process's log, once per process: the first page a web
    process redirects to the set-up puts it in the server's log (gunicorn's, the container's,
    runserver's console), where whoever installed the CRM reads it. Deliberately the one log
    line that holds a secret: it is useless once the install is claimed."""
    global _announced
    if _announced:
        return
    token = setup_token_ensure()
    if token is None:
        return
    _announced = True
    logger.warning(
        "This CRM is not set up yet. Open %s to set it up (the link works until the first "
        "admin is created; `manage.py setup_link` prints it again).",
        setup_link(token=token),
    )


# --- the steps ----------------------------------------------------------------------------


def _lock_organisation() -> Organisation:
    organisation_get()
    return Organisation.objects.select_for_update(no_key=True).get(pk=1)


def _check_admin_answers(*, username: str, email: str, password: str) -> None:
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as error:
        raise SetupRuleError(error.messages[0], field="username") from None
    if not username or len(username) > 150:
        raise SetupRuleError(_("A user name of 1 to 150 characters, please."), field="username")
    if len(email) > 254:
        raise SetupRuleError(_("Enter a valid e-mail address."), field="email")
    probe = User(username=username, email=email)
    try:
        password_validation.validate_password(password, probe)
    except ValidationError as error:
        raise SetupRuleError(" ".join(error.messages), field="password") from None


@atomic_with_retry
def setup_claim(
    *,
    name: str,
    reporting_currency: str,
    time_zone: str,
    language: str,
    week_start: int,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
) -> User:
    """Claim an empty install: the organisation's settings and the first admin (a superuser,
    as `createsuperuser` makes, so they also reach the Django admin), in one transaction.
    From here the set-up token is dead and the set-up continues for this admin, signed in.
    The caller checked the token. Refused with `SetupAlreadyDone` when any user exists or
    the set-up ran already; with `SetupRuleError` (or the organisation's own rule errors)
    for answers the rules refuse. Not idempotent: a second call is refused."""
    organisation = _lock_organisation()
    if organisation.setup_completed_at or organisation.setup_admin_id or User.objects.exists():
        raise SetupAlreadyDone()
    _check_admin_answers(username=username, email=email, password=password)
    admin = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=True,
        is_superuser=True,
    )
    admin.set_password(password)
    admin.save()
    organisation_update(
        acting_user=admin,
        name=name,
        reporting_currency=reporting_currency,
        time_zone=time_zone,
        week_start=week_start,
        language=language,
    )
    Organisation.objects.filter(pk=1).update(
        setup_admin=admin, setup_step=STEP_TEAM, setup_token_salt=""
    )
    security_event("setup_claimed", user_id=admin.pk)
    return admin


def _lock_in_progress() -> Organisation:
    organisation = _lock_organisation()
    if organisation.setup_completed_at or not organisation.setup_admin_id:
        raise SetupAlreadyDone()
    return organisation


@atomic_with_retry
def setup_team_create(
    *, acting_user: User, team_name: str, template_key: str, pipeline_name: str
) -> Pipeline:
    """The first team (the admin joins it as admin) and its pipeline from a template of the
    catalogue (`pipeline_create_from_template`: stages, exit criteria, follow-up routines;
    named after the template when `pipeline_name` is blank); the set-up moves on to the
    invitations. Only at the team step (`SetupRuleError` otherwise: a second submit from
    another tab creates nothing more). Assumes an admin."""
    organisation = _lock_in_progress()
    if organisation.setup_step != STEP_TEAM:
        raise SetupRuleError(_("The team is created already; carry on with the next step."))
    if template_key not in {option.key for option in pipeline_template_options()}:
        raise SetupRuleError(_("Pick one of the listed pipelines."), field="template")
    team_name, pipeline_name = team_name.strip(), (pipeline_name or "").strip()
    if not team_name or len(team_name) > 100:
        raise SetupRuleError(_("A team name of 1 to 100 characters, please."), field="team_name")
    if len(pipeline_name) > 100:
        raise SetupRuleError(
            _("A pipeline name of up to 100 characters, please."), field="pipeline_name"
        )
    team = team_create(acting_user=acting_user, name=team_name)
    membership_set(acting_user=acting_user, user=acting_user, team=team, role=Role.ADMIN)
    # In the organisation's language, chosen at the first step: the pipeline is the team's.
    pipeline = pipeline_create_from_template(
        acting_user=acting_user,
        team=team,
        template_key=template_key,
        name=pipeline_name or None,
        language=organisation.language,
    )
    organisation.setup_step = STEP_INVITE
    organisation.save(update_fields=["setup_step", "updated_at"])
    return pipeline


@atomic_with_retry
def setup_invitations_create(
    *, acting_user: User, team: Team, invites: list[tuple[str, str]]
) -> list[Invitation]:
    """Invite each (e-mail, role) into the set-up's team, all or none: one refused address
    (someone has it already, a role that is not one) refuses them all and the error names
    it. Mails go after commit. Only while the set-up is in progress."""
    _lock_in_progress()
    created = []
    for email, role in invites:
        try:
            created.append(
                invitation_create(acting_user=acting_user, email=email, team=team, role=role)
            )
        except RuleError as error:
            raise SetupRuleError(f"{email}: {error.message}", field="invites") from None
    return created


@atomic_with_retry
def setup_step_done(*, acting_user: User, step: str) -> bool:
    """Leave `step` (invitations or import) for the next one. False (no write) when the
    set-up is past it already: a second click changes nothing."""
    organisation = _lock_in_progress()
    following = {STEP_INVITE: STEP_IMPORT}
    if organisation.setup_step != step or step not in following:
        return False
    organisation.setup_step = following[step]
    organisation.save(update_fields=["setup_step", "updated_at"])
    return True


@atomic_with_retry
def setup_finish(*, acting_user: User) -> bool:
    """Finish the set-up: its pages answer 404 from now on and no page leads to them. Only
    after the team step (a pipeline is what the board needs). Idempotent: False when it was
    finished already."""
    organisation = _lock_organisation()
    if organisation.setup_completed_at:
        return False
    if not organisation.setup_admin_id:
        raise SetupAlreadyDone()
    if organisation.setup_step == STEP_TEAM:
        raise SetupRuleError(_("Create the first team and its pipeline first."))
    organisation.setup_completed_at = timezone.now()
    organisation.setup_step = ""
    organisation.setup_token_salt = ""
    organisation.save(
        update_fields=["setup_completed_at", "setup_step", "setup_token_salt", "updated_at"]
    )
    security_event("setup_finished", user_id=acting_user.pk)
    return True


@dataclass(frozen=True)
class SetupResult:
    admin: User
    pipeline: Pipeline
    invitations: list[Invitation]


@atomic_with_retry
def setup_run(
    *,
    organisation: dict,
    admin: dict,
    team_name: str,
    template_key: str,
    pipeline_name: str,
    invites: list[tuple[str, str]],
) -> SetupResult:
    """The whole set-up at once (`manage.py setup`): every step in one transaction, so a
    refused answer leaves the install empty as it was. `organisation` holds the keyword
    arguments of the organisation's settings, `admin` those of the first admin."""
    user = setup_claim(**organisation, **admin)
    pipeline = setup_team_create(
        acting_user=user,
        team_name=team_name,
        template_key=template_key,
        pipeline_name=pipeline_name,
    )
    invitations = setup_invitations_create(acting_user=user, team=pipeline.team, invites=invites)
    setup_step_done(acting_user=user, step=STEP_INVITE)
    setup_finish(acting_user=user)
    return SetupResult(admin=user, pipeline=pipeline, invitations=invitations)
