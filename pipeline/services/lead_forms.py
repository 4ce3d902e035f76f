"""Website lead forms: the admin's settings, and a visitor's submission becoming a deal.

Rules (docs/product.md, "Website lead forms"):
- A submission creates or matches the contact by e-mail (in the form's team), else the
  company by the e-mail's domain (not for free mail such as gmail.com), by the website given,
  or by the company name given (folded as the duplicate check folds it); what it does not
  find it creates. Existing companies and contacts are never changed by a public form.
- The deal goes to the top of the pipeline's first stage with the source "Website form:
  <name>", its stage-history row and the stage's follow-up routines (`deal_create`); when
  the stage plans nothing, the form's own first next step (subject, kind, due in N working
  days) is planned, so a fresh lead always has a next step.
- The owner: round robin over the chosen salespeople (strictly in turn, under the form row's
  lock), a fixed person, or nobody; someone who left the team or was deactivated is passed
  over (nobody left: unassigned). The owner is notified at once; an unassigned lead notifies
  the team's managers.
- Spam (honeypot filled, filled faster than LEAD_FORM_MIN_FILL_SECONDS, no valid start
  token) is answered like a success by the view and only counted here (`lead_spam_count`).

Lock order: the lead form row first (it serialises round robin), then what `deal_create`
locks (the first stage, then the deal; docs/architecture.md, "Locks").
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.access import access_for
from accounts.models import Membership, Role, Team, User
from crm.matching import (
    LEGAL_FORMS,
    company_name_key,
    email_domain,
    is_free_mail,
    web_host_key,
)
from crm.models import Company, Contact, Note
from crm.organisation import organisation_zone, reporting_currency
from crm.rules import RuleError
from crm.transactions import atomic_with_retry
from pipeline.models import (
    LEAD_FIELD_KEYS,
    Activity,
    Deal,
    LeadForm,
    Notification,
    NotificationKind,
    OwnerRule,
    Pipeline,
    Stage,
    default_fields,
    lead_form_key,
)
from pipeline.services.deals import deal_create
from pipeline.services.routines import working_days_after

TOKEN_SALT = "crm.lead_forms.start"
# Candidates folded for a company-name match (after narrowing by the name's words in SQL).
NAME_CANDIDATES = 50


class LeadFormError(RuleError):
    """A lead form setting the rules refuse (400); `field` names the form field."""


class LeadFormClosed(RuleError):
    """The form stopped taking leads (turned off, its pipeline archived or without a stage)
    between loading it and saving the lead."""

    status = 404


def _require_admin(user: User) -> None:
    if not access_for(user).is_admin:
        raise PermissionDenied(_("Only an admin can change lead forms."))


# --- the start token (minimum fill time) --------------------------------------------------


def fill_token(*, lead_form: LeadForm, now: float | None = None) -> str:
    """A signed token saying when a visitor started filling in the form: the public page,
    the snippet's script and `GET /forms/<key>/token` hand one out, and a submission brings
    it back."""
    issued = int(time.time() if now is None else now)
    return signing.Signer(salt=TOKEN_SALT).sign(f"{lead_form.key}.{issued}")


def fill_seconds(*, lead_form: LeadForm, token: str, now: float | None = None) -> float | None:
    """Seconds since the token was handed out, or None when it is missing, forged or for
    another form."""
    try:
        value = signing.Signer(salt=TOKEN_SALT).unsign(token or "")
        key, issued = value.rsplit(".", 1)
        issued_at = int(issued)
    except (signing.BadSignature, ValueError):
        return None
    if key != lead_form.key:
        return None
    return (time.time() if now is None else now) - issued_at


def lead_spam_count(*, lead_form: LeadForm) -> None:
    """Count one blocked submission on the form's page (honeypot or too fast). Nothing else is
    stored. One UPDATE, outside any transaction of ours."""
    LeadForm.objects.filter(pk=lead_form.pk).update(spam_count=F("spam_count") + 1)


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFormSettings:
    """Everything an admin sets on a form (the settings form's cleaned data)."""

    name: str
    pipeline: Pipeline
    is_active: bool
    language: str
    fields: dict
    title: str
    intro: str
    submit_label: str
    thank_you_text: str
    redirect_url: str
    owner_rule: str
    fixed_owner: User | None
    round_robin_users: tuple[User, ...]
    next_step_subject: str
    next_step_kind: str
    next_step_days: int
    allowed_origins: str


def _team_member_ids(team_id: int, user_ids: list[int]) -> set[int]:
    return set(
        Membership.objects.filter(
            team_id=team_id, user_id__in=user_ids, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def _check_settings(values: LeadFormSettings) -> None:
    """The rules a form's settings must meet; nothing is written when one fails."""
    team_id = values.pipeline.team_id
    if values.pipeline.is_archived:
        raise LeadFormError(_("Choose a pipeline that is not archived."), field="pipeline")
    unknown = set(values.fields) - set(LEAD_FIELD_KEYS)
    if unknown or not {"name", "email"} <= set(values.fields):
        raise LeadFormError(_("The form must ask for a name and an e-mail."), field=None)
    people = [u.pk for u in values.round_robin_users]
    if values.fixed_owner is not None:
        people.append(values.fixed_owner.pk)
    outsiders = set(people) - _team_member_ids(team_id, people)
    if outsiders:
        raise LeadFormError(
            _("Everyone who gets leads must be an active member of the pipeline's team."),
            field="fixed_owner" if values.owner_rule == OwnerRule.FIXED else "round_robin_users",
        )
    if values.owner_rule == OwnerRule.FIXED and values.fixed_owner is None:
        raise LeadFormError(_("Choose the person who gets every lead."), field="fixed_owner")
    if values.owner_rule == OwnerRule.ROUND_ROBIN and not values.round_robin_users:
        raise LeadFormError(
            _("Choose at least one salesperson for the round robin."), field="round_robin_users"
        )


def _default_people(team: Team) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True, memberships__team=team, memberships__role=Role.SALESPERSON
        ).order_by("pk")
    )


@atomic_with_retry
def lead_form_create(*, acting_user: User, name: str, pipeline: Pipeline) -> LeadForm:
    """A new form for `pipeline` with the usual fields (name, e-mail, phone, company,
    message), round robin over the team's salespeople (unassigned when it has none), the
    first next step "Call back within 1 working day" and the form's language the one active
    now. Admins only. Not idempotent."""
    _require_admin(acting_user)
    if pipeline.is_archived:
        raise LeadFormError(_("Choose a pipeline that is not archived."), field="pipeline")
    people = _default_people(pipeline.team)
    language = translation_language()
    lead_form = LeadForm.objects.create(
        name=name.strip(),
        pipeline=pipeline,
        key=lead_form_key(),
        language=language,
        fields=default_fields(),
        owner_rule=OwnerRule.ROUND_ROBIN if people else OwnerRule.UNASSIGNED,
        next_step_subject=_("Call back within 1 working day"),
    )
    if people:
        lead_form.round_robin_users.set(people)
    return lead_form


def translation_language() -> str:
    """The active language if the product offers it, else the default."""
    active = (get_language() or settings.LANGUAGE_CODE).lower()
    codes = [code for code, _name in settings.LANGUAGES]
    if active in codes:
        return active
    short = active.split("-")[0]
    return next((code for code in codes if code.split("-")[0] == short), settings.LANGUAGE_CODE)


SETTING_FIELDS = (
    "name",
    "pipeline",
    "is_active",
    "language",
    "fields",
    "title",
    "intro",
    "submit_label",
    "thank_you_text",
    "redirect_url",
    "owner_rule",
    "fixed_owner",
    "next_step_subject",
    "next_step_kind",
    "next_step_days",
    "allowed_origins",
)


@atomic_with_retry
def lead_form_update(*, acting_user: User, lead_form: LeadForm, values: LeadFormSettings) -> bool:
    """Change a form's settings; returns whether anything changed (nothing is written
    otherwise). Everyone who gets leads must be an active member of the pipeline's team; a
    round robin needs someone, a fixed owner a person. Admins only. Locks the form row, so a
    submission sees the old settings or the new ones, never half of each."""
    _require_admin(acting_user)
    _check_settings(values)
    current = LeadForm.objects.select_for_update(no_key=True).get(pk=lead_form.pk)
    changed = []
    for field in SETTING_FIELDS:
        new = getattr(values, field)
        if isinstance(new, str):
            new = new.strip()
        old = getattr(current, field)
        if old != new:
            setattr(current, field, new)
            changed.append(field)
    if not values.fixed_owner and current.fixed_owner_id and "fixed_owner" not in changed:
        changed.append("fixed_owner")
    if changed:
        current.save(update_fields=[*changed, "updated_at"])
    people = {u.pk for u in values.round_robin_users}
    if people != set(current.round_robin_users.values_list("pk", flat=True)):
        current.round_robin_users.set(list(people))
        changed.append("round_robin_users")
    return bool(changed)


@atomic_with_retry
def lead_form_set_active(*, acting_user: User, lead_form: LeadForm, active: bool) -> bool:
    """Turn a form on or off (off: its public address answers "not found" and the snippet
    stops working). Admins only. Idempotent; returns whether it changed."""
    _require_admin(acting_user)
    return bool(
        LeadForm.objects.filter(pk=lead_form.pk)
        .exclude(is_active=active)
        .update(is_active=active, updated_at=timezone.now())
    )


# --- a submission -------------------------------------------------------------------------


@dataclass(frozen=True)
class Lead:
    """A visitor's answers, validated by the public form (lengths, e-mail, numbers)."""

    name: str
    email: str
    phone: str = ""
    company: str = ""
    job_title: str = ""
    website: str = ""
    budget: Decimal | None = None
    message: str = ""


def _first_stage(pipeline_id: int) -> Stage | None:
    return (
        Stage.objects.active()
        .select_related("pipeline")
        .filter(pipeline_id=pipeline_id)
        .order_by("position", "pk")
        .first()
    )


# The form's row, updated and locked in one statement: counted, and the round robin's turn
# moved on to the first chosen person after the last one (by id, wrapping round) who is still
# active and in the form's team (none eligible: the turn stays). Concurrent submissions wait
# for the row's lock; PostgreSQL then evaluates the SET's subquery again on the row as the
# first one left it, so leads go strictly in turn. RETURNING gives the form as it is under
# the lock.
_CHOSEN_IDS = """
    SELECT MIN(u.id) FROM accounts_user u
    WHERE u.is_active
        AND EXISTS (
            SELECT 1 FROM pipeline_leadform_round_robin_users r
            WHERE r.leadform_id = pipeline_leadform.id AND r.user_id = u.id)
        AND EXISTS (
            SELECT 1 FROM accounts_membership m
            JOIN pipeline_pipeline p ON p.team_id = m.team_id
            WHERE m.user_id = u.id AND p.id = pipeline_leadform.pipeline_id)
"""
_TAKE_TURN = f"""
UPDATE pipeline_leadform SET
    submission_count = submission_count + 1,
    last_submission_at = %s,
    round_robin_last_id = CASE WHEN owner_rule = %s THEN COALESCE(
        ({_CHOSEN_IDS} AND u.id > COALESCE(pipeline_leadform.round_robin_last_id, 0)),
        ({_CHOSEN_IDS}),
        round_robin_last_id) ELSE round_robin_last_id END
WHERE id = %s
RETURNING is_active, pipeline_id, owner_rule, round_robin_last_id, fixed_owner_id, name,
    next_step_subject, next_step_kind, next_step_days
"""
_FORM_COLUMNS = (
    "is_active",
    "pipeline_id",
    "owner_rule",
    "round_robin_last_id",
    "fixed_owner_id",
    "name",
    "next_step_subject",
    "next_step_kind",
    "next_step_days",
)


def _take_turn(lead_form: LeadForm, now) -> LeadForm:
    """Lock and count the form and move the round robin on (see _TAKE_TURN), in one
    statement: the form with its settings as they are under the lock."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_TURN, [now, OwnerRule.ROUND_ROBIN, lead_form.pk])
        row = cursor.fetchone()
    if row is None:  # deleted meanwhile
        raise LeadFormClosed(_("This form is not taking enquiries at the moment."))
    current = copy.copy(lead_form)
    for column, value in zip(_FORM_COLUMNS, row, strict=True):
        setattr(current, column, value)
    current.is_active = bool(current.is_active)
    return current


def _owner_for(lead_form: LeadForm, team_id: int) -> User | None:
    """Who gets the lead, one query: the round robin's turn (which `_take_turn` moved on under
    the form's lock: when nobody chosen is eligible it stayed on someone who no longer is, so
    the lead is unassigned) or the fixed person, if still active and in the team."""
    members = User.objects.filter(is_active=True, memberships__team_id=team_id)
    if lead_form.owner_rule == OwnerRule.FIXED:
        wanted = lead_form.fixed_owner_id
    elif lead_form.owner_rule == OwnerRule.ROUND_ROBIN:
        wanted = lead_form.round_robin_last_id
        members = members.filter(pk__in=lead_form.round_robin_users.values("pk"))
    else:
        return None
    return members.filter(pk=wanted).first() if wanted is not None else None


def _company_by_host(team_id: int, host: str) -> Company | None:
    """The team's oldest company whose web domain is `host` (with or without "www."). The
    company form fills the domain from the website, so the domain is what is compared, on
    its case-insensitive index."""
    if not host:
        return None
    return (
        Company.objects.filter(team_id=team_id)
        .filter(Q(domain__iexact=host) | Q(domain__iexact=f"www.{host}"))
        .order_by("pk")
        .first()
    )


def _company_by_name(team_id: int, name: str) -> Company | None:
    """The team's oldest company whose folded name (`company_name_key`: case, punctuation,
    legal form) is the lead's. Narrowed in SQL to names containing every word of the lead's
    (legal forms left out), so a few rows are folded here; a name spelled with other accents
    than the stored one is not found (the duplicate check shows such pairs later)."""
    key = company_name_key(name)
    if not key:
        return None
    words = [
        word
        for word in re.split(r"\W+", name)
        if len(word) >= 2 and word.casefold() not in LEGAL_FORMS
    ]
    candidates = Company.objects.filter(team_id=team_id)
    for word in words[:6]:
        candidates = candidates.filter(name__icontains=word)
    rows = candidates.order_by("pk").values_list("pk", "name")[:NAME_CANDIDATES]
    for pk, other in rows:
        if company_name_key(other) == key:
            return Company.objects.get(pk=pk)
    return None


def _company_and_contact(
    *, team_id: int, lead: Lead, owner: User | None
) -> tuple[Company, Contact, bool]:
    """The lead's company and contact, matched or created (see the module's rules). The
    third value says whether the company is a firm (not the visitor's own name)."""
    contact = (
        Contact.objects.select_related("company")
        .filter(company__team_id=team_id, email__iexact=lead.email)
        .order_by("pk")
        .first()
    )
    if contact is not None:
        return contact.company, contact, True
    domain = email_domain(lead.email)
    business_domain = "" if is_free_mail(domain) else domain
    website_host = web_host_key(lead.website)
    company = (
        _company_by_host(team_id, business_domain)
        or _company_by_host(team_id, website_host)
        or (_company_by_name(team_id, lead.company) if lead.company else None)
    )
    is_firm = True
    if company is None:
        name = lead.company or business_domain or website_host
        is_firm = bool(name)
        company = Company.objects.create(
            team_id=team_id,
            name=(name or lead.name)[:200],
            domain=(business_domain or website_host)[:200],
            website=lead.website[:200],
            owner=owner,
        )
    contact = Contact.objects.create(
        company=company,
        name=lead.name,
        email=lead.email,
        phone=lead.phone,
        title=lead.job_title,
    )
    return company, contact, is_firm


def _notify(*, deal: Deal, team_id: int) -> None:
    """The owner hears of the lead at once; an unassigned lead goes to the team's managers."""
    if deal.owner_id:
        user_ids = [deal.owner_id]
    else:
        user_ids = list(
            Membership.objects.filter(
                team_id=team_id, role=Role.MANAGER, user__is_active=True
            ).values_list("user_id", flat=True)
        )
    Notification.objects.bulk_create(
        Notification(user_id=user_id, kind=NotificationKind.LEAD_RECEIVED, deal=deal)
        for user_id in user_ids
    )


def _first_step(deal: Deal, lead_form: LeadForm) -> Activity:
    """The form's own first next step on a deal this transaction just created (so it has no
    other activity, no flag, and nobody else can see it yet): the activity, and the deal's
    copy of its next step, as `routines_apply_on_entry` writes them. For the owner; an
    unassigned lead's step is unassigned too, for the managers to hand out."""
    today = timezone.localdate(timezone.now(), organisation_zone())
    step = Activity.objects.create(
        deal=deal,
        kind=lead_form.next_step_kind,
        subject=lead_form.next_step_subject,
        due_date=working_days_after(today, lead_form.next_step_days),
        assignee_id=deal.owner_id,
    )
    deal.next_step = step
    deal.next_step_subject = step.subject
    deal.next_step_due = step.due_date
    deal.next_step_assignee_id = step.assignee_id
    deal.save(
        update_fields=["next_step", "next_step_subject", "next_step_due", "next_step_assignee"]
    )
    return step


@atomic_with_retry
def lead_submit(*, lead_form: LeadForm, lead: Lead) -> Deal:
    """Turn a visitor's submission into a deal (see the module's rules) and count it on the
    form. No user acts: the admin's settings decide. Refuses with LeadFormClosed (nothing
    written) when the form was turned off or its pipeline lost its stages meanwhile. Not
    idempotent: every call is one more lead."""
    current = _take_turn(lead_form, timezone.now())
    stage = _first_stage(current.pipeline_id)
    if not current.is_active or stage is None or stage.pipeline.is_archived:
        raise LeadFormClosed(_("This form is not taking enquiries at the moment."))
    team_id = stage.pipeline.team_id
    owner = _owner_for(current, team_id)
    company, contact, is_firm = _company_and_contact(team_id=team_id, lead=lead, owner=owner)
    deal = deal_create(
        acting_user=None,
        stage=stage,
        title=(company.name if is_firm else lead.name)[:200],
        value=lead.budget or Decimal(0),
        currency=reporting_currency(),
        company=company,
        contact=contact,
        owner=owner,
        source=current.source,
    )
    if deal.next_step_id is None:  # the stage planned no routine: the form's own step
        _first_step(deal, current)
    if lead.message:
        Note.objects.create(deal=deal, author=None, body=lead.message)
    _notify(deal=deal, team_id=team_id)
    return deal
