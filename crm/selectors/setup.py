"""Where the first-run set-up stands, and its one-time token (docs/architecture.md, "First
run").

An install is in one of three phases:

- **unclaimed**: no user exists. Every page leads to the set-up, which asks for the token
  printed in the server's log; its first two steps (organisation, first admin) claim the
  install.
- **in progress**: the set-up created the first admin (`Organisation.setup_admin`), who
  finishes the later steps (team and pipeline, invitations, import) signed in; the token is
  dead.
- **done**: the set-up was finished, or the install has users that the set-up did not make
  (`createsuperuser`, the demo, the tests' factories, an install older than the set-up).

Done is never undone, so a process that has seen it remembers it and pays no query for it
again; until then the phase is read from the database on every request that asks, so several
web processes agree at once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.utils.crypto import salted_hmac

from accounts.models import Membership, Role, Team, User
from crm.models import Organisation

UNCLAIMED = "unclaimed"
IN_PROGRESS = "in_progress"
DONE = "done"

# The steps in their order; the first two run before the install is claimed.
STEP_ORGANISATION = "organisation"
STEP_ADMIN = "admin"
STEP_TEAM = "team"
STEP_INVITE = "invite"
STEP_IMPORT = "import"
STEPS = (STEP_ORGANISATION, STEP_ADMIN, STEP_TEAM, STEP_INVITE, STEP_IMPORT)
CLAIMED_STEPS = (STEP_TEAM, STEP_INVITE, STEP_IMPORT)

TOKEN_KEY_SALT = "crm.setup.token"
TOKEN_LENGTH = 40  # hex digits: 160 bits


@dataclass(frozen=True)
class SetupStatus:
    phase: str
    step: str = ""  # the step to resume at, while in progress
    admin_id: int | None = None  # the admin finishing it, while in progress

    @property
    def done(self) -> bool:
        return self.phase == DONE

    @property
    def unclaimed(self) -> bool:
        return self.phase == UNCLAIMED

    @property
    def in_progress(self) -> bool:
        return self.phase == IN_PROGRESS


SETUP_DONE = SetupStatus(phase=DONE)

_done_seen = False


def setup_status() -> SetupStatus:
    """The install's phase: no query once this process has seen it done; otherwise one or
    two (the organisation's set-up fields, then whether any user exists)."""
    global _done_seen
    if _done_seen:
        return SETUP_DONE
    row = (
        Organisation.objects.filter(pk=1)
        .values_list("setup_completed_at", "setup_admin_id", "setup_step")
        .first()
    )
    completed_at, admin_id, step = row or (None, None, "")
    if completed_at is None:
        if not User.objects.exists():
            return SetupStatus(phase=UNCLAIMED, step=STEP_ORGANISATION)
        if admin_id is not None:
            return SetupStatus(
                phase=IN_PROGRESS,
                step=step if step in CLAIMED_STEPS else STEP_TEAM,
                admin_id=admin_id,
            )
    _done_seen = True
    return SETUP_DONE


def setup_status_forget() -> None:
    """Read the phase from the database again (tests that start from an empty install)."""
    global _done_seen
    _done_seen = False


def setup_status_assume_done() -> None:
    """Take the set-up as done without asking the database (the tests' default: their
    databases have no users until a fixture makes some, and they test an installed CRM)."""
    global _done_seen
    _done_seen = True


def setup_team_for(*, admin: User) -> Team | None:
    """The team the set-up created: the first the admin is an admin of."""
    membership = (
        Membership.objects.filter(user=admin, role=Role.ADMIN)
        .select_related("team")
        .order_by("pk")
        .first()
    )
    return membership.team if membership else None


# --- the token ----------------------------------------------------------------------------


def setup_token_for_salt(salt: str) -> str:
    """The token of a salt: an HMAC under SECRET_KEY. Every process derives the same one,
    across restarts, and the database holds only the salt."""
    return salted_hmac(TOKEN_KEY_SALT, salt, algorithm="sha256").hexdigest()[:TOKEN_LENGTH]


def setup_token_salt() -> str:
    """The stored salt; blank before a token was made and once the install is claimed."""
    return (
        Organisation.objects.filter(pk=1, setup_admin__isnull=True, setup_completed_at__isnull=True)
        .values_list("setup_token_salt", flat=True)
        .first()
        or ""
    )


def setup_token_fingerprint(token: str) -> str:
    """What a browser's session keeps once its token was accepted (never the token itself):
    a different HMAC of it, so a session row does not reveal the token either."""
    return salted_hmac(TOKEN_KEY_SALT + ".session", token, algorithm="sha256").hexdigest()


def setup_token_matches(token: str) -> bool:
    """Whether `token` is the install's live set-up token, compared in constant time. False
    once the install is claimed (the salt is gone) and for anything malformed."""
    salt = setup_token_salt()
    if not salt or not isinstance(token, str):
        return False
    expected = setup_token_for_salt(salt).encode()
    return hmac.compare_digest(expected, token.strip().encode("utf-8", "replace"))


def setup_session_matches(fingerprint: str) -> bool:
    """Whether a session's fingerprint is that of the live token (constant time)."""
    salt = setup_token_salt()
    if not salt or not isinstance(fingerprint, str):
        return False
    expected = setup_token_fingerprint(setup_token_for_salt(salt)).encode()
    return hmac.compare_digest(expected, fingerprint.encode("utf-8", "replace"))
