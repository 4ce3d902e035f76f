"""Website lead forms: a public form per pipeline whose submissions become deals in the
pipeline's first stage (docs/product.md, "Website lead forms"), and each salesperson's
open-deal capacity for the lead balance."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pipeline.models.activities import ActivityKind
from pipeline.models.pipelines import Pipeline

# How far ahead a form's own first next step may be planned (as for routines).
LEAD_NEXT_STEP_MAX_DAYS = 60
# The most open deals a capacity may say a salesperson can carry.
CAPACITY_MAX = 1000


@dataclass(frozen=True)
class LeadField:
    """One field a lead form may ask for: its key in the posted data, what it is called, the
    kind of input, its longest value and where the answer goes."""

    key: str
    label: object  # a lazy translation
    input_type: str  # text, email, tel, url, textarea, number
    max_length: int
    maps_to: object  # a lazy translation: where the answer is stored
    autocomplete: str = "on"


# The catalogue, in the order a form shows them. Name and e-mail are always asked and always
# required: the e-mail matches the contact (and, outside free mail, the company).
LEAD_FIELDS: tuple[LeadField, ...] = (
    LeadField("name", _("Name"), "text", 200, _("contact name"), "name"),
    LeadField("email", _("E-mail"), "email", 254, _("contact e-mail"), "email"),
    LeadField("phone", _("Phone"), "tel", 40, _("contact phone"), "tel"),
    LeadField("company", _("Company"), "text", 200, _("company name"), "organization"),
    LeadField(
        "job_title", _("Job title"), "text", 120, _("contact job title"), "organization-title"
    ),
    LeadField("website", _("Website"), "url", 200, _("company website"), "url"),
    LeadField("budget", _("Budget"), "number", 16, _("deal value"), "off"),
    LeadField("message", _("Message"), "textarea", 3000, _("a note on the deal"), "off"),
)
LEAD_FIELD_KEYS = tuple(f.key for f in LEAD_FIELDS)
ALWAYS_REQUIRED = ("name", "email")
# The honeypot: a field people never see (hidden by CSS) that bots fill in.
HONEYPOT_FIELD = "fax"
# The signed start-of-filling token (see pipeline.services.lead_forms.fill_token).
TOKEN_FIELD = "_ts"


def lead_form_key() -> str:
    """The random part of a form's public address: unguessable, and not an id of anything."""
    return secrets.token_urlsafe(12)


def default_fields() -> dict:
    """A new form asks for name, e-mail, phone, company and a message."""
    return {
        "name": {"required": True, "label": ""},
        "email": {"required": True, "label": ""},
        "phone": {"required": False, "label": ""},
        "company": {"required": False, "label": ""},
        "message": {"required": False, "label": ""},
    }


class OwnerRule(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin over chosen salespeople")
    FIXED = "fixed", _("Always the same person")
    UNASSIGNED = "unassigned", _("Unassigned: the team's managers hand it out")


class LeadForm(models.Model):
    """A website form that turns a visitor's submission into a deal in `pipeline`'s first
    stage. Its public address is `/forms/<key>/`; only admins configure it."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="lead_forms", verbose_name=_("pipeline")
    )
    name = models.CharField(_("name"), max_length=100)
    # Set by the service from `lead_form_key()` (no callable default: migrations import no
    # app code).
    key = models.CharField(max_length=32, unique=True, editable=False)
    is_active = models.BooleanField(_("accepting leads"), default=True)
    language = models.CharField(
        _("language of the form"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
    )
    # {field key: {"required": bool, "label": "own label or empty"}}, for the fields asked;
    # validated against LEAD_FIELDS by the settings form; a new form gets `default_fields()`.
    fields = models.JSONField(default=dict)
    title = models.CharField(_("heading"), max_length=200, blank=True)
    intro = models.TextField(_("introduction"), max_length=1000, blank=True)
    submit_label = models.CharField(_("button text"), max_length=60, blank=True)
    thank_you_text = models.TextField(_("thank-you text"), max_length=1000, blank=True)
    redirect_url = models.URLField(_("redirect to"), max_length=500, blank=True)
    owner_rule = models.CharField(
        _("who gets new leads"),
        max_length=20,
        choices=OwnerRule.choices,
        default=OwnerRule.ROUND_ROBIN,
    )
    fixed_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person"),
    )
    round_robin_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("salespeople")
    )
    # Who got the last round-robin lead; the next goes to the chosen person after them (by
    # id), under the form row's lock.
    round_robin_last = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    next_step_subject = models.CharField(_("first next step"), max_length=200)
    next_step_kind = models.CharField(
        _("kind"), max_length=10, choices=ActivityKind.choices, default=ActivityKind.CALL
    )
    next_step_days = models.PositiveSmallIntegerField(
        _("due after (working days)"),
        default=1,
        validators=[MinValueValidator(0), MaxValueValidator(LEAD_NEXT_STEP_MAX_DAYS)],
    )
    # Web origins ("https://www.example.com"), one per line: they may post JSON (CORS), post
    # the snippet and show the form in an iframe.
    allowed_origins = models.TextField(_("websites"), max_length=2000, blank=True)
    submission_count = models.PositiveIntegerField(default=0)
    spam_count = models.PositiveIntegerField(default=0)
    last_submission_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(next_step_days__gte=0, next_step_days__lte=LEAD_NEXT_STEP_MAX_DAYS),
                name="leadform_next_step_days_0_60",
            ),
            models.CheckConstraint(
                condition=Q(owner_rule__in=["round_robin", "fixed", "unassigned"]),
                name="leadform_owner_rule_valid",
            ),
        ]
        verbose_name = _("lead form")
        verbose_name_plural = _("lead forms")

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return [line.strip() for line in self.allowed_origins.splitlines() if line.strip()]

    @property
    def source(self) -> str:
        """What a deal from this form says it came from (stored, so not translated)."""
        return f"Website form: {self.name}"[:120]


class RepCapacity(models.Model):
    """How many open deals a salesperson can carry in a team, set by the team's managers
    (or an admin); the lead balance compares their open deals with it."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    open_deals = models.PositiveIntegerField(
        _("open-deal capacity"), validators=[MaxValueValidator(CAPACITY_MAX)]
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="repcapacity_one_per_team_user"),
            models.CheckConstraint(
                condition=Q(open_deals__lte=CAPACITY_MAX), name="repcapacity_at_most_1000"
            ),
        ]
        verbose_name = _("open-deal capacity")
        verbose_name_plural = _("open-deal capacities")

    def __str__(self) -> str:
        return f"{self.user_id} in {self.team_id}: {self.open_deals}"
