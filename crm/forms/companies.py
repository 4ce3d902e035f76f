"""Companies: the form, the list's filters, domain, website and phone rules."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import forms
from django.core.validators import RegexValidator, URLValidator
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.access import access_for
from accounts.models import User
from accounts.selectors import teams_for_user
from crm.forms.lists import ListSearchForm
from crm.forms.tiers import tier_filter_field
from crm.matching import web_host_key
from crm.models import Company, Tier
from crm.selectors import can_set_tier, can_set_tiers_somewhere
from crm.services.tiers import KEEP_TIER

# One DNS label: letters, digits and inner hyphens, at most 63 characters.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"


_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")


def normalise_domain(value: str) -> str:
    """ "https://www.Example.com/about" -> "www.example.com"; raises ValidationError for
    anything that is not a plain web domain."""
    raw = value.strip()
    if not raw:
        return ""
    if any(ch.isspace() for ch in raw):
        raise forms.ValidationError(
            _("A web domain cannot contain spaces. Enter it like example.com."), code="spaces"
        )
    try:
        host = urlsplit(raw if "://" in raw else f"//{raw}").hostname or ""
        ascii_host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        ascii_host = ""
    if len(ascii_host) > 200 or not _DOMAIN_RE.match(ascii_host):
        raise forms.ValidationError(
            _("Enter a web domain like example.com (no spaces, nothing after the name)."),
            code="invalid",
        )
    return host


def normalise_website(value: str) -> str:
    """ "WWW.Example.com/About" -> "https://www.example.com/About": an https address when no
    scheme was given, scheme and host lowercased, a bare "/" path dropped. Expects a value that
    `forms.URLField` has already accepted."""
    if not value:
        return ""
    parts = urlsplit(value)
    path = "" if parts.path == "/" and not parts.query else parts.path
    return parts._replace(
        scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), path=path
    ).geturl()


# Phone numbers as people write them: digits, spaces and + - ( ) . /
PHONE_VALIDATOR = RegexValidator(
    r"^[0-9+()./ -]*$",
    _("Use digits, spaces and + - ( ) . / only, like +45 12 34 56 78."),
)


def _country_choices() -> list[tuple[str, str]]:
    # Called per form, so the names follow the language of the request.
    return [("", _("Not set")), *countries]


class CompanyListForm(ListSearchForm):
    """The company list's query string: search text, page and tiers."""

    tier = tier_filter_field()

    def tiers(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.cleaned_data.get("tier") or ())))


TIER_AUTOMATIC = ""


# The optional facts a B2B firm keeps about a customer, saved as given.
DETAIL_FIELDS = ("website", "phone", "registration_number", "country", "address")


class CompanyForm(forms.Form):
    """Add or edit a company.

    The team is asked for only when the user has a choice (several teams, or admin); otherwise
    it is their single team. The owner is offered only to those who may give a company to
    someone else (managers and admins); everyone else keeps the current owner, and a new
    company belongs to whoever adds it.
    """

    name = forms.CharField(label=_("Name"), max_length=200)
    domain = forms.CharField(
        label=_("Web domain"),
        max_length=200,
        required=False,
        help_text=_("Like example.com. Left empty, it is taken from the website."),
    )
    website = forms.URLField(
        label=_("Website"),
        max_length=200,
        required=False,
        help_text=_("Like https://example.com."),
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        error_messages={"invalid": _("Enter a web address like https://example.com.")},
    )
    phone = forms.CharField(
        label=_("Phone"), max_length=40, required=False, validators=[PHONE_VALIDATOR]
    )
    registration_number = forms.CharField(
        label=_("Registration number"),
        max_length=40,
        required=False,
        help_text=_("CVR, org.nr., VAT id"),
    )
    country = forms.ChoiceField(label=_("Country"), required=False, choices=_country_choices)
    address = forms.CharField(
        label=_("Address"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, empty_label=None)
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=None, required=False, empty_label=_("Nobody")
    )
    tier = forms.ChoiceField(
        label=_("Tier"),
        required=False,
        choices=[
            (TIER_AUTOMATIC, _("Automatic, from the expected value")),
            (Tier.A, _("A, set by hand")),
            (Tier.B, _("B, set by hand")),
            (Tier.C, _("C, set by hand")),
        ],
        help_text=_(
            "Automatic tiers are recomputed every night. A tier set by hand is kept until "
            "you set it back to automatic."
        ),
    )

    # Sent by the "Add anyway" / "Save anyway" button under "Did you mean ...?".
    confirm_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = [
        "name",
        "registration_number",
        "website",
        "domain",
        "phone",
        "country",
        "address",
        "team",
        "owner",
        "tier",
    ]

    def __init__(self, *args, user: User, company: Company | None = None, **kwargs):
        if company is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": company.name,
                    "domain": company.domain,
                    "team": company.team_id,
                    "owner": company.owner_id,
                    "tier": company.tier if company.tier_locked else TIER_AUTOMATIC,
                    **{field: str(getattr(company, field)) for field in DETAIL_FIELDS},
                },
            )
        else:
            kwargs.setdefault("initial", {"owner": user.pk})
        super().__init__(*args, **kwargs)
        self.user = user
        self.company = company
        access = access_for(user)
        teams = list(teams_for_user(user=user))
        self.fields["team"].queryset = teams_for_user(user=user)
        self.fixed_team = None
        if len(teams) == 1 and not access.is_admin:
            self.fixed_team = teams[0]
            del self.fields["team"]
        self.can_reassign = access.is_admin or bool(access.managed_team_ids)
        if self.can_reassign:
            members = User.objects.filter(is_active=True)
            if not access.is_admin:
                members = members.filter(memberships__team__in=[t.pk for t in teams])
            self.fields["owner"].queryset = members.distinct().order_by(
                "first_name", "last_name", "username"
            )
        else:
            del self.fields["owner"]
        if company is not None:
            self.can_set_tier = can_set_tier(user=user, team_id=company.team_id)
        else:
            self.can_set_tier = can_set_tiers_somewhere(user=user)
        if not self.can_set_tier:
            del self.fields["tier"]

    def clean_domain(self) -> str:
        return normalise_domain(self.cleaned_data["domain"])

    def clean_website(self) -> str:
        return normalise_website(self.cleaned_data["website"])

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("domain") and cleaned.get("website") and "domain" not in self.errors:
            # The domain (searched and compared) follows the website unless it was given.
            try:
                cleaned["domain"] = normalise_domain(web_host_key(cleaned["website"]))
            except forms.ValidationError:
                pass  # an address like https://10.0.0.1 has no web domain
        team = cleaned.get("team", self.fixed_team)
        owner = cleaned.get("owner")
        is_member = owner is None or team is None or owner.memberships.filter(team=team).exists()
        if not is_member:
            self.add_error(
                "owner",
                _("%(user)s is not a member of %(team)s.") % {"user": owner, "team": team},
            )
        tier_by_hand = cleaned.get("tier") not in (None, TIER_AUTOMATIC)
        if self.company is None and tier_by_hand and team is not None:
            if not can_set_tier(user=self.user, team_id=team.pk):
                self.add_error(
                    "tier", _("Only a manager of the team or an admin can set a tier by hand.")
                )
        return cleaned

    def company_data(self) -> dict:
        """Keyword arguments for `company_create` / `company_update`."""
        data = self.cleaned_data
        if self.can_reassign:
            owner = data.get("owner")
        else:
            owner = self.company.owner if self.company is not None else self.user
        return {
            "name": data["name"],
            "domain": data["domain"],
            "team": data.get("team", self.fixed_team),
            "owner": owner,
            "tier": (data.get("tier") or None) if self.can_set_tier else KEEP_TIER,
            **{field: data[field] for field in DETAIL_FIELDS},
        }
