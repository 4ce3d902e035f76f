"""The pickers' search views: HTML options for htmx, only what the user may see, 404 for
another team's scope, 400 for a malformed query, never another team's names.

alice: salesperson, team A · alex: salesperson, team A · carol: salesperson, team B · admin.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def acme(team_a, alice):
    return CompanyFactory(team=team_a, owner=alice, name="Acme Nordic", domain="acme.dk")


@pytest.fixture
def dorthe(acme):
    return ContactFactory(company=acme, name="Dorthe Dahl", title="CFO")


@pytest.fixture
def carols(team_b, carol):
    company = CompanyFactory(team=team_b, owner=carol, name="Acme Secret", domain="secret.se")
    ContactFactory(company=company, name="Dorthe Secret", title="CEO")
    return company


def search(client, kind: str, **params):
    return client.get(reverse(f"{kind}-search"), params, **HTMX)


def test_company_search_answers_options_with_the_match_marked(client, alice, acme, carols):
    client.force_login(alice)
    response = search(client, "company", q="nord", team=acme.team_id)
    assert response.status_code == 200
    assert f'data-value="{acme.pk}" data-label="Acme Nordic"' in response.text
    assert "Acme <mark>Nord</mark>ic" in response.text
    assert "acme.dk" in response.text
    assert "1 match." in response.text


def test_outsider_never_sees_another_teams_names(client, carol, acme, dorthe):
    client.force_login(carol)
    for kind in ("company", "contact"):
        for q in ("", "a", "acme", "Acme Nordic", "dorthe", "dahl", "acme.dk"):
            text = search(client, kind, q=q).text
            assert 'role="option"' not in text
            # Only the typed text comes back ("No companies match …"), nothing of team A's.
            words = ("Nordic", "Dahl", "acme.dk", "CFO")
            assert not [w for w in words if w.lower() not in q.lower() and w in text]


def test_no_matches_says_so(client, alice, acme):
    client.force_login(alice)
    response = search(client, "company", q="zzz")
    assert response.status_code == 200
    assert "No companies match “zzz”." in response.text
    assert 'role="option"' not in response.text


def test_another_teams_scope_is_404(client, alice, carols):
    client.force_login(alice)
    assert search(client, "company", q="", team=carols.team_id).status_code == 404
    assert search(client, "contact", q="", team=carols.team_id).status_code == 404
    assert search(client, "contact", q="", company=carols.pk).status_code == 404
    assert search(client, "contact", q="", company=999_999).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 101},
        {"team": "abc"},
        {"team": "0"},
        {"team": "9" * 30},
        {"company": "-1"},
        {"company": "1e3"},
    ],
)
def test_malformed_query_is_400(client, alice, acme, params):
    client.force_login(alice)
    for kind in ("company", "contact"):
        assert search(client, kind, **params).status_code == 400


def test_contacts_of_the_chosen_company_with_their_company(client, alice, acme, dorthe, team_a):
    ContactFactory(company=CompanyFactory(team=team_a, name="Other"), name="Dan Dam")
    client.force_login(alice)
    response = search(client, "contact", q="", company=acme.pk, team=acme.team_id)
    assert response.status_code == 200
    assert "Dorthe Dahl" in response.text and "Dan Dam" not in response.text
    assert f'data-group="{acme.pk}" data-group-label="Acme Nordic"' in response.text
    assert "Acme Nordic · CFO" in response.text


def test_editable_scope_leaves_out_read_only_companies(client, alex, acme, team_a):
    CompanyFactory(team=team_a, owner=alex, name="Acme Alex")
    client.force_login(alex)
    text = search(client, "company", q="acme", editable="1").text
    assert "Acme Alex" in text and "Acme Nordic" not in text
    assert "Acme Nordic" in search(client, "company", q="acme").text


@pytest.mark.parametrize(
    "name", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', 'hx-get="/x"']
)
def test_hostile_names_are_escaped(client, alice, team_a, name):
    company = CompanyFactory(team=team_a, name=name, domain="")
    ContactFactory(company=company, name=name)
    client.force_login(alice)
    for kind in ("company", "contact"):
        text = search(client, kind, q="").text
        assert name not in text
        assert escape(name) in text


def test_anonymous_is_sent_to_sign_in(client, acme):
    response = client.get(reverse("company-search"), {"q": "acme"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_only_get(client, alice):
    client.force_login(alice)
    assert client.post(reverse("company-search"), {"q": "a"}).status_code == 405


def test_search_query_count_does_not_grow_with_the_companies(
    client, alice, team_a, django_assert_max_num_queries
):
    CompanyFactory.create_batch(300, team=team_a)
    client.force_login(alice)
    # session, user, access; then the names that start with q, with a word that does, that
    # contain it
    with django_assert_max_num_queries(6):
        response = search(client, "company", q="zzz", team=team_a.pk)
    assert response.status_code == 200
    with django_assert_max_num_queries(4):
        response = search(client, "company", q="", team=team_a.pk)
    assert response.text.count('role="option"') == 20
