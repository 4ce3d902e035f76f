"""Forms of the first-run set-up: the token, then one form per step. They check types,
lengths and choices; the services (crm.services.setup) check the rules again."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from crm.forms.organisation import OrganisationForm
from crm.services.setup import pipeline_template_options


class SetupTokenForm(forms.Form):
    token = forms.CharField(
        label=_("Set-up token"),
        max_length=100,
        help_text=_(
            "Printed in the server's log when the CRM started (the line “This CRM is not set up "
            "yet”), and by “python manage.py setup_link”."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
        ),
    )


class SetupOrganisationForm(OrganisationForm):
    """The organisation settings page's form, with the language asked for, not optional."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].required = True
        self.fields["language"].help_text = _("Of mail from the CRM, such as invitations.")
        self.fields["name"].help_text = _("Shown in the top bar and as the sender of mail.")

    def clean_language(self) -> str:
        return self.cleaned_data["language"]


class SetupAdminForm(forms.Form):
    """The first admin: the person setting up, who can do everything."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254)
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
                email=data.get("email", ""),
            )
            try:
                password_validation.validate_password(first, probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


def _template_choices():
    return [(option.key, option.name) for option in pipeline_template_options()]


class SetupTeamForm(forms.Form):
    team_name = forms.CharField(
        label=_("Team name"),
        max_length=100,
        help_text=_("For example “Sales” or “Sales North”. You can add more teams later."),
    )
    template = forms.ChoiceField(label=_("Pipeline"), widget=forms.RadioSelect)
    pipeline_name = forms.CharField(
        label=_("Pipeline name"),
        max_length=100,
        required=False,
        help_text=_("Leave it empty to name it after the template."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = _template_choices()
        self.fields["template"].initial = self.fields["template"].choices[0][0]


class InviteRowForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.SALESPERSON)


# Four rows on the page; up to twenty in a request (scripts, a long paste).
InviteFormSet = forms.formset_factory(
    InviteRowForm, extra=4, max_num=20, absolute_max=20, validate_max=True
)


def invite_rows(formset) -> list[tuple[str, str]]:
    """The (e-mail, role) pairs of the filled rows, each address once."""
    seen, rows = set(), []
    for form in formset:
        email = (form.cleaned_data.get("email") or "").strip()
        if email and email.lower() not in seen:
            seen.add(email.lower())
            rows.append((email, form.cleaned_data["role"]))
    return rows


class SetupStepForm(forms.Form):
    """Which button of a step was pressed."""

    action = forms.ChoiceField(choices=[("send", "send"), ("next", "next")])


class SetupFinishForm(forms.Form):
    then = forms.ChoiceField(choices=[("board", "board"), ("import", "import")], required=False)
