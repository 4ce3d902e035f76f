"""The picker field never trusts the submitted id: it looks it up in the form's scope, and
without JavaScript it resolves the typed name.

alice: salesperson, team A · carol: salesperson, team B.
"""

from __future__ import annotations

import pytest
from django import forms

from crm.forms.pickers import company_picker_field
from crm.models import Company
from crm.selectors import picker_companies
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


class CompanyChoice(forms.Form):
    company = company_picker_field(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["company"].queryset = picker_companies(user=user)


def clean(user, data: dict):
    form = CompanyChoice(data, user=user)
    return form.cleaned_data["company"] if form.is_valid() else form.errors["company"]


@pytest.fixture
def acme(team_a):
    return CompanyFactory(team=team_a, name="Acme Nordic")


@pytest.fixture
def secret(team_b):
    return CompanyFactory(team=team_b, name="Secret AB")


def test_a_visible_id_with_its_name(alice, acme):
    assert clean(alice, {"company": acme.pk, "company_text": "Acme Nordic"}) == acme
    assert clean(alice, {"company": str(acme.pk)}) == acme  # a script posting only the id


@pytest.mark.parametrize("text", [None, "Secret AB", "Acme Nordic"])
def test_another_teams_id_is_not_found(alice, secret, acme, text):
    data = {"company": secret.pk} if text is None else {"company": secret.pk, "company_text": text}
    assert clean(alice, data) == ["That company could not be found. Pick one from the list."]


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "1.5", "9" * 30, "1e3"])
def test_garbage_ids_are_refused(alice, acme, raw):
    errors = clean(alice, {"company": raw, "company_text": "Acme Nordic"})
    assert errors == ["That company could not be found. Pick one from the list."]


def test_a_typed_name_is_looked_up_without_javascript(alice, acme, secret):
    assert clean(alice, {"company": "", "company_text": "  acme   NORDIC "}) == acme
    assert clean(alice, {"company": "", "company_text": "Secret AB"}) == [
        "No company is called “Secret AB”. Check the name, or pick one from the list."
    ]
    assert clean(alice, {"company": "", "company_text": "Acme"}) == [
        "No company is called “Acme”. Check the name, or pick one from the list."
    ]


def test_a_name_typed_over_the_chosen_one_wins(alice, acme, team_a):
    other = CompanyFactory(team=team_a, name="Baltic Freight")
    assert clean(alice, {"company": acme.pk, "company_text": "baltic freight"}) == other


def test_a_name_two_companies_share_asks_to_pick(alice, team_a):
    CompanyFactory.create_batch(2, team=team_a, name="Twin ApS")
    assert clean(alice, {"company": "", "company_text": "Twin ApS"}) == [
        "More than one company is called “Twin ApS”. Pick the right one from the list."
    ]


def test_an_emptied_field_means_none(alice, acme):
    assert clean(alice, {"company": acme.pk, "company_text": ""}) is None
    assert clean(alice, {"company": "", "company_text": "   "}) is None
    assert clean(alice, {}) is None


def test_overlong_text_is_refused(alice):
    assert clean(alice, {"company": "", "company_text": "x" * 201}) == [
        "Type at most 200 characters."
    ]


def test_a_required_picker_left_empty(alice):
    class Required(CompanyChoice):
        company = company_picker_field()

    form = Required({"company": "", "company_text": ""}, user=alice)
    assert not form.is_valid()
    assert form.errors["company"] == ["This field is required."]


def test_each_form_has_its_own_scope(alice, carol, acme, secret):
    """The widget's scope and remembered rows are per form, not shared through the class."""
    first = CompanyChoice(user=alice)
    first.fields["company"].widget.search_params["team"] = acme.team_id
    first.fields["company"].remember(acme)
    second = CompanyChoice(user=carol)
    assert second.fields["company"].widget.search_params == {}
    assert second.fields["company"].widget.known == {}
    assert list(second.fields["company"].queryset) == [secret]


def test_the_widget_shows_the_chosen_name_and_nothing_outside_the_scope(alice, acme, secret):
    html = str(CompanyChoice(initial={"company": acme.pk}, user=alice)["company"])
    assert f'name="company" value="{acme.pk}"' in html
    assert 'name="company_text" value="Acme Nordic"' in html
    html = str(CompanyChoice(initial={"company": secret.pk}, user=alice)["company"])
    assert "Secret AB" not in html
    assert 'name="company" value=""' in html
    assert Company.objects.count() == 2
