"""The pickers' searches: only what the user may see (or change), best matches first, a
bounded number of rows in a bounded number of queries.

alice: salesperson, team A · alex: salesperson, team A · bob: manager, team A ·
carol: salesperson, team B · admin.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from crm.selectors import (
    PICKER_LIMIT,
    companies_search_for_user,
    contacts_search_for_user,
    picker_team_check,
)
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


def names(results) -> list[str]:
    return [row.name for row in results.items]


def test_search_lists_only_the_teams_the_user_sees(alice, carol, team_a, team_b):
    CompanyFactory(team=team_a, name="Acme Nord")
    CompanyFactory(team=team_b, name="Acme Syd")
    assert names(companies_search_for_user(user=alice, q="acme")) == ["Acme Nord"]
    assert names(companies_search_for_user(user=carol, q="acme")) == ["Acme Syd"]
    assert names(companies_search_for_user(user=carol, q="")) == ["Acme Syd"]


def test_another_teams_scope_finds_nothing(carol, team_a):
    CompanyFactory(team=team_a, name="Acme Nord")
    results = companies_search_for_user(user=carol, q="", team_id=team_a.pk)
    assert results.items == [] and not results.has_more


def test_names_starting_with_the_text_come_first_then_word_starts_then_the_rest(alice, team_a):
    for name in ["Bacme Tools", "Nordic Acme", "acme lower", "Acme", "Zeta-Acme", "Acme Holding"]:
        CompanyFactory(team=team_a, name=name)
    CompanyFactory(team=team_a, name="Unrelated")
    assert names(companies_search_for_user(user=alice, q="ACME")) == [
        "Acme",
        "Acme Holding",
        "acme lower",  # case does not count
        "Nordic Acme",
        "Zeta-Acme",
        "Bacme Tools",
    ]


def test_the_list_is_limited_and_says_when_more_matched(alice, team_a):
    for i in range(PICKER_LIMIT):
        CompanyFactory(team=team_a, name=f"Acme {i:02}")
    results = companies_search_for_user(user=alice, q="acme")
    assert len(results.items) == PICKER_LIMIT and not results.has_more
    CompanyFactory(team=team_a, name="Nordic Acme")  # a later group fills the 21st row
    results = companies_search_for_user(user=alice, q="acme")
    assert len(results.items) == PICKER_LIMIT and results.has_more
    assert "Nordic Acme" not in names(results)


def test_a_search_takes_at_most_three_queries(alice, team_a):
    CompanyFactory.create_batch(30, team=team_a)
    alice_access_loaded = companies_search_for_user(user=alice, q="")  # reads the access once
    assert alice_access_loaded.items
    for q in ("", "a", "zzz-no-such-name"):
        with CaptureQueriesContext(connection) as captured:
            companies_search_for_user(user=alice, q=q)
        # the names that start with q; with a word that does; that contain it
        assert len(captured) <= 3


def test_wildcards_in_the_text_are_literal(alice, team_a):
    CompanyFactory(team=team_a, name="100% Organic")
    CompanyFactory(team=team_a, name="1000 Things")
    CompanyFactory(team=team_a, name="A_B Consult")
    CompanyFactory(team=team_a, name="AXB Consult")
    assert names(companies_search_for_user(user=alice, q="100%")) == ["100% Organic"]
    assert names(companies_search_for_user(user=alice, q="a_b")) == ["A_B Consult"]


def test_own_deals_only_hides_colleagues_companies(alice, bob, team_a):
    team_a.own_deals_only = True
    team_a.save()
    CompanyFactory(team=team_a, name="Acme Mine", owner=alice)
    CompanyFactory(team=team_a, name="Acme Nobodys")
    CompanyFactory(team=team_a, name="Acme Bobs", owner=bob)
    assert names(companies_search_for_user(user=alice, q="acme")) == ["Acme Mine", "Acme Nobodys"]
    assert len(companies_search_for_user(user=bob, q="acme").items) == 3


def test_editable_scope_leaves_out_companies_the_user_may_only_see(alex, alice, team_a):
    CompanyFactory(team=team_a, name="Acme Alices", owner=alice)
    CompanyFactory(team=team_a, name="Acme Alexs", owner=alex)
    CompanyFactory(team=team_a, name="Acme Nobodys")
    assert names(companies_search_for_user(user=alex, q="acme")) == [
        "Acme Alexs",
        "Acme Alices",
        "Acme Nobodys",
    ]
    assert names(companies_search_for_user(user=alex, q="acme", editable=True)) == [
        "Acme Alexs",
        "Acme Nobodys",
    ]


def test_contacts_of_the_chosen_company_only(alice, team_a, team_b):
    acme = CompanyFactory(team=team_a, name="Acme")
    other = CompanyFactory(team=team_a, name="Other")
    ContactFactory(company=acme, name="Dorthe Dahl")
    ContactFactory(company=other, name="Dan Dam")
    ContactFactory(company=CompanyFactory(team=team_b), name="Dina Foreign")
    assert names(contacts_search_for_user(user=alice, q="d")) == ["Dan Dam", "Dorthe Dahl"]
    assert names(contacts_search_for_user(user=alice, q="", company_id=acme.pk)) == ["Dorthe Dahl"]
    results = contacts_search_for_user(user=alice, q="dahl", team_id=team_a.pk)
    assert names(results) == ["Dorthe Dahl"]  # a surname: a word that starts with the text
    assert results.items[0].company.name == "Acme"  # loaded with the row


def test_contacts_of_a_company_hidden_from_the_user_are_not_found(alice, bob, team_a):
    team_a.own_deals_only = True
    team_a.save()
    ContactFactory(company=CompanyFactory(team=team_a, owner=bob), name="Hidden Hansen")
    ContactFactory(company=CompanyFactory(team=team_a, owner=alice), name="Shown Hansen")
    assert names(contacts_search_for_user(user=alice, q="hansen")) == ["Shown Hansen"]


def test_team_door(alice, admin, team_a, team_b):
    picker_team_check(user=alice, team_id=team_a.pk)
    picker_team_check(user=alice, team_id=None)
    picker_team_check(user=admin, team_id=team_b.pk)
    with pytest.raises(Http404):
        picker_team_check(user=alice, team_id=team_b.pk)
