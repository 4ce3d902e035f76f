"""Input validation for the users and teams settings pages."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, Team, User


class UserCreateForm(forms.Form):
    """A new user: who they are, their first team and role, and how they get a password."""

    SIGN_IN_LINK = "link"
    SIGN_IN_PASSWORD = "password"

    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("What they type to sign in. Letters, digits and @ . + - _ only."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), empty_label=None)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=Role.choices,
        initial=Role.SALESPERSON,
        help_text=_("An admin manages settings for the whole organisation."),
    )
    sign_in = forms.ChoiceField(
        label=_("Password"),
        choices=[
            (SIGN_IN_LINK, _("Give them a one-time link to choose their own password")),
            (SIGN_IN_PASSWORD, _("Set a first password now")),
        ],
        initial=SIGN_IN_LINK,
        widget=forms.RadioSelect,
    )
    password = forms.CharField(
        label=_("First password"),
        required=False,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Only when setting a password now. They can change it after signing in."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("sign_in") == self.SIGN_IN_PASSWORD:
            password = data.get("password")
            if not password:
                self.add_error("password", _("Enter a first password, or choose the link."))
            else:
                probe = User(
                    username=data.get("username", ""),
                    first_name=data.get("first_name", ""),
                    last_name=data.get("last_name", ""),
                    email=data.get("email", ""),
                )
                try:
                    password_validation.validate_password(password, probe)
                except forms.ValidationError as error:
                    self.add_error("password", error)
        else:
            data["password"] = None
        return data


class UserUpdateForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)


class MembershipAddForm(forms.Form):
    """Put a user into one more team (the team list is the teams they are not in yet)."""

    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), empty_label=None)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALESPERSON)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class TeamMemberAddForm(forms.Form):
    """Add an active user to a team (the list is the people not in it yet)."""

    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.none(), empty_label=None)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALESPERSON)

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    back = forms.ChoiceField(
        choices=[("user", "user"), ("team", "team")], required=False, widget=forms.HiddenInput
    )


class BackForm(forms.Form):
    back = forms.ChoiceField(
        choices=[("user", "user"), ("team", "team")], required=False, widget=forms.HiddenInput
    )


class DeactivateForm(forms.Form):
    """Who takes over the leaver's open deals and companies: a person, or nobody."""

    reassign_to = forms.ModelChoiceField(
        label=_("Give their open deals and companies to"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody: leave them unassigned"),
        help_text=_(
            "Unassigned deals stay on the board; anyone in the team can pick them up. "
            "Won and lost deals keep their owner."
        ),
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reassign_to"].queryset = User.objects.filter(
            pk__in=[c.pk for c in candidates]
        ).order_by("first_name", "last_name", "username")


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    own_deals_only = forms.BooleanField(
        label=_("Salespeople see only their own and unassigned deals"),
        required=False,
        help_text=_("Managers and admins always see every deal of the team."),
    )


class InvitationForm(forms.Form):
    """Invite someone by e-mail into a team with a role (Settings → Users)."""

    email = forms.EmailField(label=_("E-mail"), max_length=254)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), empty_label=None)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALESPERSON)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.order_by("name")


class InvitationAcceptForm(forms.Form):
    """The invited person's own answers: how they sign in and what they are called."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("What you type to sign in. Letters, digits and @ . + - _ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "off"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not easy to guess."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            probe = User(
                username=data.get("username", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                email=self.user.email,
            )
            try:
                password_validation.validate_password(first, probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class ApiTokenCreateForm(forms.Form):
    """A new personal API token: a name to tell it apart, and how long it lives."""

    EXPIRY_DAYS = {"30": 30, "90": 90, "365": 365, "never": None}

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Weekly report script")}),
    )
    expires = forms.ChoiceField(
        label=_("Expires"),
        choices=[
            ("30", _("In 30 days")),
            ("90", _("In 90 days")),
            ("365", _("In a year")),
            ("never", _("Never")),
        ],
        initial="90",
    )

    def expires_at(self, now):
        days = self.EXPIRY_DAYS[self.cleaned_data["expires"]]
        return None if days is None else now + timedelta(days=days)


class LanguageForm(forms.Form):
    """The user menu's switcher and the profile's choice: one of settings.LANGUAGES, or blank
    (the profile's "as my browser says"); `next` is where to go back to (checked by the view)."""

    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("As my browser says")), *settings.LANGUAGES],
        required=False,
    )
    next = forms.CharField(required=False, max_length=2000)
