"""Input validation for companies, contacts, notes and the list pages' query strings."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import access_for, teams_for_user
from crm.models import Company, Contact, Tier
from crm.selectors import companies_editable_by

MAX_PAGE = 100_000

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


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a note…")}),
    )


class ListSearchForm(forms.Form):
    """The query string of the company and contact lists: search text and page number."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        strip=True,
        error_messages={"max_length": _("Search for at most %(limit_value)d characters.")},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "invalid": _("The page must be a whole number."),
            "min_value": _("Pages are numbered from 1."),
            "max_value": _("There is no page that far on."),
        },
    )


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
        help_text=_("Like example.com."),
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, empty_label=None)
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=None, required=False, empty_label=_("Nobody")
    )
    tier = forms.ChoiceField(label=_("Tier"), choices=Tier.choices, initial=Tier.C)
    tier_locked = forms.BooleanField(
        label=_("Keep this tier (set by hand)"),
        required=False,
        help_text=_("Otherwise the tier is recomputed every night from the expected value."),
    )

    def __init__(self, *args, user: User, company: Company | None = None, **kwargs):
        if company is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": company.name,
                    "domain": company.domain,
                    "team": company.team_id,
                    "owner": company.owner_id,
                    "tier": company.tier,
                    "tier_locked": company.tier_locked,
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

    def clean_domain(self) -> str:
        return normalise_domain(self.cleaned_data["domain"])

    def clean(self):
        cleaned = super().clean()
        team = cleaned.get("team", self.fixed_team)
        owner = cleaned.get("owner")
        is_member = owner is None or team is None or owner.memberships.filter(team=team).exists()
        if not is_member:
            self.add_error(
                "owner",
                _("%(user)s is not a member of %(team)s.") % {"user": owner, "team": team},
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
            "tier": data["tier"],
            "tier_locked": data["tier_locked"],
        }


class ContactForm(forms.Form):
    """Add or edit a contact under one of the companies the user may change."""

    company = forms.ModelChoiceField(label=_("Company"), queryset=None)
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        validators=[
            RegexValidator(
                r"^[0-9+()./ -]*$",
                _("Use digits, spaces and + - ( ) . / only, like +45 12 34 56 78."),
            )
        ],
    )
    title = forms.CharField(label=_("Job title"), max_length=120, required=False)

    def __init__(self, *args, user: User, contact: Contact | None = None, **kwargs):
        if contact is not None:
            kwargs.setdefault(
                "initial",
                {
                    "company": contact.company_id,
                    "name": contact.name,
                    "email": contact.email,
                    "phone": contact.phone,
                    "title": contact.title,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = companies_editable_by(user=user).order_by("name", "pk")

    def contact_data(self) -> dict:
        """Keyword arguments for `contact_create` / `contact_update`."""
        return dict(self.cleaned_data)
