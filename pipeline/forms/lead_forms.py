"""Input validation for website lead forms: the admin's settings (names, fields asked, texts,
a redirect address, who gets leads, the first next step, website origins) and a visitor's
submission (every field length-limited and checked, control characters dropped), plus the
spam verdict (honeypot, minimum fill time)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from crm.forms.fields import LocalDecimalField
from pipeline.models import (
    ALWAYS_REQUIRED,
    HONEYPOT_FIELD,
    LEAD_FIELDS,
    LEAD_NEXT_STEP_MAX_DAYS,
    TOKEN_FIELD,
    ActivityKind,
    LeadForm,
    OwnerRule,
    Pipeline,
)
from pipeline.selectors.lead_forms import (
    ShownField,
    lead_form_fields,
    pipelines_for_lead_forms,
    team_people,
)
from pipeline.services.lead_forms import Lead, LeadFormSettings, fill_seconds

MAX_ORIGINS = 20
LABEL_MAX = 60
OFF, OPTIONAL, REQUIRED = "off", "optional", "required"
SHOW_CHOICES = [
    (OFF, _("Not asked")),
    (OPTIONAL, _("Optional")),
    (REQUIRED, _("Required")),
]


def _pipeline_label(pipeline: Pipeline) -> str:
    return f"{pipeline.team.name} · {pipeline.name}"


class PipelineChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Pipeline) -> str:
        return _pipeline_label(obj)


class LeadFormCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Contact us"), "maxlength": 100}),
    )
    pipeline = PipelineChoiceField(
        queryset=Pipeline.objects.none(),
        label=_("Pipeline"),
        empty_label=None,
        help_text=_("New leads start in its first stage; its team works them."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].queryset = pipelines_for_lead_forms()


def clean_origins(text: str) -> str:
    """One web origin per line ("https://www.example.com", no path), normalised; refuses
    anything else with the offending line named."""
    origins: list[str] = []
    for line in text.splitlines():
        raw = line.strip()
        if not raw:
            continue
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.password
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise forms.ValidationError(
                _("“%(line)s” is not a web address like https://www.example.com."),
                params={"line": raw[:80]},
            )
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise forms.ValidationError(
            _("List at most %(max)d websites."), params={"max": MAX_ORIGINS}
        )
    return "\n".join(origins)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class LeadFormSettingsForm(forms.Form):
    """Every setting of a form. The people who may get leads are the active members of the
    chosen pipeline's team (the posted pipeline's, so a changed pipeline is checked against
    its own team); the service checks the same again."""

    name = forms.CharField(label=_("Name"), max_length=100, strip=True)
    pipeline = PipelineChoiceField(
        queryset=Pipeline.objects.none(), label=_("Pipeline"), empty_label=None
    )
    is_active = forms.BooleanField(label=_("Accepting leads"), required=False)
    language = forms.ChoiceField(
        label=_("Language of the form"),
        choices=settings.LANGUAGES,
        help_text=_("Labels and error messages visitors see."),
    )
    title = forms.CharField(label=_("Heading"), max_length=200, required=False, strip=True)
    intro = forms.CharField(
        label=_("Introduction"),
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    submit_label = forms.CharField(
        label=_("Button text"), max_length=60, required=False, strip=True
    )
    thank_you_text = forms.CharField(
        label=_("Thank-you text"),
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown after sending. Empty: “Thank you! We will be in touch soon.”"),
    )
    redirect_url = forms.URLField(
        label=_("Or send visitors to this page"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=_("Your own thank-you page, e.g. https://www.example.com/thanks"),
    )
    owner_rule = forms.ChoiceField(
        label=_("Who gets new leads"), choices=OwnerRule.choices, widget=forms.RadioSelect
    )
    fixed_owner = PersonChoiceField(
        queryset=User.objects.none(),
        label=_("Person"),
        required=False,
        empty_label=_("Choose someone"),
    )
    round_robin_users = PeopleChoiceField(
        queryset=User.objects.none(),
        label=_("Salespeople in the round robin"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    next_step_subject = forms.CharField(
        label=_("First next step"),
        max_length=200,
        strip=True,
        help_text=_("Planned for the owner when the pipeline's first stage plans no routine."),
    )
    next_step_kind = forms.ChoiceField(label=_("Kind"), choices=ActivityKind.choices)
    next_step_days = forms.IntegerField(
        label=_("Due after (working days)"), min_value=0, max_value=LEAD_NEXT_STEP_MAX_DAYS
    )
    allowed_origins = forms.CharField(
        label=_("Websites"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "https://www.example.com", "spellcheck": "false"}
        ),
        help_text=_(
            "One address per line. Only these sites may show the form in an iframe, post the "
            "HTML snippet and send JSON."
        ),
    )

    def __init__(self, data=None, *, lead_form: LeadForm):
        super().__init__(data, initial=self._initial(lead_form))
        self.lead_form = lead_form
        pipelines = pipelines_for_lead_forms()
        self.fields["pipeline"].queryset = pipelines
        team_id = lead_form.pipeline.team_id
        if data is not None:
            posted = pipelines.filter(pk=_int(data.get("pipeline"))).first()
            if posted is not None:
                team_id = posted.team_id
        people = team_people(team_id=team_id)
        self.fields["fixed_owner"].queryset = people
        self.fields["round_robin_users"].queryset = people
        config = lead_form.fields or {}
        for field in LEAD_FIELDS:
            entry = config.get(field.key) if isinstance(config.get(field.key), dict) else None
            if field.key not in ALWAYS_REQUIRED:
                state = OFF if entry is None else REQUIRED if entry.get("required") else OPTIONAL
                self.fields[f"show_{field.key}"] = forms.ChoiceField(
                    label=field.label, choices=SHOW_CHOICES, initial=state
                )
            self.fields[f"label_{field.key}"] = forms.CharField(
                label=_("Label on the form"),
                max_length=LABEL_MAX,
                required=False,
                strip=True,
                initial=(entry or {}).get("label", ""),
                widget=forms.TextInput(attrs={"placeholder": field.label}),
            )

    @staticmethod
    def _initial(lead_form: LeadForm) -> dict:
        initial = {
            name: getattr(lead_form, name)
            for name in (
                "name",
                "is_active",
                "language",
                "title",
                "intro",
                "submit_label",
                "thank_you_text",
                "redirect_url",
                "owner_rule",
                "next_step_subject",
                "next_step_kind",
                "next_step_days",
                "allowed_origins",
            )
        }
        initial["pipeline"] = lead_form.pipeline_id
        initial["fixed_owner"] = lead_form.fixed_owner_id
        if lead_form.pk:
            initial["round_robin_users"] = [u.pk for u in lead_form.round_robin_users.all()]
        return initial

    def field_rows(self) -> list[dict]:
        """The catalogue's rows for the template: the field, its "asked" select (none for
        name and e-mail) and its label input."""
        return [
            {
                "field": field,
                "show": self[f"show_{field.key}"] if field.key not in ALWAYS_REQUIRED else None,
                "label": self[f"label_{field.key}"],
            }
            for field in LEAD_FIELDS
        ]

    def clean_allowed_origins(self) -> str:
        return clean_origins(self.cleaned_data.get("allowed_origins", ""))

    def clean(self):
        cleaned = super().clean()
        fields = {}
        for field in LEAD_FIELDS:
            state = REQUIRED if field.key in ALWAYS_REQUIRED else cleaned.get(f"show_{field.key}")
            if state in (OPTIONAL, REQUIRED):
                fields[field.key] = {
                    "required": state == REQUIRED,
                    "label": cleaned.get(f"label_{field.key}", ""),
                }
        cleaned["fields"] = fields
        rule = cleaned.get("owner_rule")
        if rule == OwnerRule.FIXED and not cleaned.get("fixed_owner"):
            self.add_error("fixed_owner", _("Choose the person who gets every lead."))
        if rule == OwnerRule.ROUND_ROBIN and not cleaned.get("round_robin_users"):
            self.add_error(
                "round_robin_users", _("Choose at least one salesperson for the round robin.")
            )
        return cleaned

    def settings_values(self) -> LeadFormSettings:
        data = self.cleaned_data
        rule = data["owner_rule"]
        return LeadFormSettings(
            name=data["name"],
            pipeline=data["pipeline"],
            is_active=data["is_active"],
            language=data["language"],
            fields=data["fields"],
            title=data["title"],
            intro=data["intro"],
            submit_label=data["submit_label"],
            thank_you_text=data["thank_you_text"],
            redirect_url=data["redirect_url"],
            owner_rule=rule,
            fixed_owner=data["fixed_owner"] if rule == OwnerRule.FIXED else None,
            round_robin_users=(
                tuple(data["round_robin_users"]) if rule == OwnerRule.ROUND_ROBIN else ()
            ),
            next_step_subject=data["next_step_subject"],
            next_step_kind=data["next_step_kind"],
            next_step_days=data["next_step_days"],
            allowed_origins=data["allowed_origins"],
        )


def _int(value) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


# --- the public form ------------------------------------------------------------------------

# Control characters (other than tab and line feed in the message) are dropped: they have no
# business in a name and can hide text from whoever reads it.
_SPACES = re.compile(r"\s+")
phone_validator = RegexValidator(
    r"^\+?[0-9 ()./-]{3,40}$",
    _("Enter a phone number: digits, spaces and + ( ) - . / only."),
)


def _printable(text: str, *, multiline: bool) -> str:
    kept = []
    for ch in text:
        if ch in "\n\t" and multiline:
            kept.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            kept.append(" ")
        else:
            kept.append(ch)
    text = "".join(kept)
    if not multiline:
        text = _SPACES.sub(" ", text)
    return text.strip()


class LeadSubmissionForm(forms.Form):
    """A visitor's answers for the fields `lead_form` asks. Build and validate it inside the
    form's language (`translation.override`), so the messages are in it too."""

    def __init__(self, data, *, lead_form: LeadForm):
        super().__init__(data)
        self.lead_form = lead_form
        self.shown: list[ShownField] = lead_form_fields(lead_form)
        for shown in self.shown:
            self.fields[shown.key] = _public_field(shown)

    def clean(self):
        cleaned = super().clean()
        for shown in self.shown:
            value = cleaned.get(shown.key)
            if isinstance(value, str):
                cleaned[shown.key] = _printable(value, multiline=shown.key == "message")
                if shown.required and not cleaned[shown.key]:
                    self.add_error(shown.key, forms.Field.default_error_messages["required"])
        return cleaned

    def rows(self) -> list[tuple[ShownField, forms.BoundField]]:
        """Each shown field with its bound field (value and errors), for the page."""
        return [(shown, self[shown.key]) for shown in self.shown]

    def lead(self) -> Lead:
        data = self.cleaned_data
        return Lead(
            name=data["name"],
            email=data["email"],
            phone=data.get("phone") or "",
            company=data.get("company") or "",
            job_title=data.get("job_title") or "",
            website=data.get("website") or "",
            budget=data.get("budget"),
            message=data.get("message") or "",
        )


def _public_field(shown: ShownField) -> forms.Field:
    field = shown.field
    common = {"label": shown.label, "required": shown.required}
    if field.key == "email":
        return forms.EmailField(max_length=field.max_length, **common)
    if field.key == "website":
        return forms.URLField(max_length=field.max_length, assume_scheme="https", **common)
    if field.key == "budget":
        return LocalDecimalField(
            min_value=0, max_value=999_999_999_999, max_digits=14, decimal_places=2, **common
        )
    validators = [phone_validator] if field.key == "phone" else []
    widget = forms.Textarea if field.input_type == "textarea" else forms.TextInput
    return forms.CharField(
        max_length=field.max_length, validators=validators, widget=widget, strip=True, **common
    )


SPAM_HONEYPOT, SPAM_TOO_FAST, EXPIRED = "honeypot", "too_fast", "expired"


def lead_spam_check(*, lead_form: LeadForm, data) -> str | None:
    """Why a submission is spam (the honeypot is filled, no valid start token, or sent sooner
    than LEAD_FORM_MIN_FILL_SECONDS after the form was shown), EXPIRED when the token is older
    than LEAD_FORM_TOKEN_MAX_AGE_HOURS (a page left open: the visitor is asked to reload),
    else None."""
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        return SPAM_HONEYPOT
    seconds = fill_seconds(lead_form=lead_form, token=str(data.get(TOKEN_FIELD) or ""))
    if seconds is None or seconds < settings.LEAD_FORM_MIN_FILL_SECONDS:
        return SPAM_TOO_FAST
    if seconds > settings.LEAD_FORM_TOKEN_MAX_AGE_HOURS * 3600:
        return EXPIRED
    return None
