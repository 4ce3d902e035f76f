"""Adding (or renaming) a company that already exists: "Did you mean ...?", saved only when
the user confirms, and compared only with the companies the user can see in the team.

alice: salesperson, team A · alex: salesperson, team A · bob: manager, team A ·
carol: salesperson, team B · admin.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from crm.models import Company
from crm.selectors import company_duplicates_for_user
from tests.factories import CompanyFactory

CREATE = reverse("company-create")


def post(**overrides) -> dict:
    data = {"name": "Nordlys", "domain": "", "website": ""}
    data.update(overrides)
    return data


def snapshot(company: Company) -> dict:
    return Company.objects.filter(pk=company.pk).values().get()


@pytest.fixture
def acme(team_a, bob):
    return CompanyFactory(team=team_a, owner=bob, name="Acme A/S", domain="acme.dk")


# --- create -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Acme A/S", "ACME ApS", "acme", "Acme, Inc.", "Ácme AB"])
def test_same_name_asks_did_you_mean_and_saves_nothing(client, alice, acme, name):
    client.force_login(alice)
    response = client.post(CREATE, post(name=name))
    assert response.status_code == 200
    assert "Did you mean" in response.text
    assert f'href="{acme.get_absolute_url()}"' in response.text
    assert "same name" in response.text
    assert 'name="confirm_duplicate" value="1"' in response.text
    # What was typed stays in the form, ready to be confirmed.
    assert f'value="{escape(name)}"' in response.text
    assert list(Company.objects.values_list("pk", flat=True)) == [acme.pk]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "acme.dk"),
        ("domain", "WWW.ACME.DK"),
        ("domain", "https://www.acme.dk/om-os"),
        ("website", "https://acme.dk/kontakt"),
        ("website", "www.acme.dk"),
    ],
)
def test_same_web_domain_asks_did_you_mean(client, alice, acme, field, value):
    client.force_login(alice)
    response = client.post(CREATE, post(name="Something else entirely", **{field: value}))
    assert response.status_code == 200
    assert "Did you mean" in response.text
    assert "same web domain" in response.text
    assert acme.get_absolute_url() in response.text
    assert Company.objects.count() == 1


def test_a_website_on_file_matches_a_new_domain(client, alice, team_a):
    existing = CompanyFactory(team=team_a, name="Fjord", domain="", website="https://www.fjord.no/")
    client.force_login(alice)
    response = client.post(CREATE, post(name="Fjordfisk", domain="fjord.no"))
    assert response.status_code == 200
    assert existing.get_absolute_url() in response.text
    assert Company.objects.count() == 1


def test_confirming_saves_the_company(client, alice, acme, team_a):
    client.force_login(alice)
    first = client.post(CREATE, post(name="Acme ApS", domain="acme.dk"))
    assert "same name and web domain" in first.text
    response = client.post(CREATE, post(name="Acme ApS", domain="acme.dk", confirm_duplicate="1"))
    created = Company.objects.exclude(pk=acme.pk).get()
    assert response.status_code == 302
    assert response["Location"] == created.get_absolute_url()
    assert (created.name, created.domain, created.team, created.owner) == (
        "Acme ApS",
        "acme.dk",
        team_a,
        alice,
    )


def test_asking_again_without_confirming_still_saves_nothing(client, alice, acme):
    client.force_login(alice)
    for _ in range(2):
        response = client.post(CREATE, post(name="Acme"))
        assert response.status_code == 200 and "Did you mean" in response.text
    assert Company.objects.count() == 1


def test_a_new_name_and_domain_saves_at_once(client, alice, acme):
    client.force_login(alice)
    response = client.post(CREATE, post(name="Acme Nordic", domain="acme-nordic.dk"))
    assert response.status_code == 302
    assert Company.objects.count() == 2


def test_another_teams_company_neither_stops_nor_shows(client, alice, team_b, carol):
    secret = CompanyFactory(team=team_b, owner=carol, name="Carol Corp", domain="carol.se")
    client.force_login(alice)
    response = client.post(CREATE, post(name="Carol Corp AB", domain="carol.se"), follow=True)
    assert response.status_code == 200
    assert "Did you mean" not in response.text
    assert secret.get_absolute_url() not in response.text
    assert Company.objects.filter(name="Carol Corp AB", team__name="Team A").count() == 1


def test_admin_is_compared_with_the_chosen_team_only(client, admin, team_a, team_b, acme):
    client.force_login(admin)
    other_team = client.post(CREATE, post(name="Acme", team=team_b.pk))
    assert other_team.status_code == 302
    same_team = client.post(CREATE, post(name="Acme", team=team_a.pk))
    assert same_team.status_code == 200
    assert acme.get_absolute_url() in same_team.text
    assert Company.objects.count() == 2


def test_a_company_hidden_by_own_deals_only_is_not_revealed(client, alice, bob, team_a):
    team_a.own_deals_only = True
    team_a.save()
    hidden = CompanyFactory(team=team_a, owner=bob, name="Bob's Secret", domain="secret.dk")
    client.force_login(alice)
    response = client.post(CREATE, post(name="Bob's Secret", domain="secret.dk"))
    assert response.status_code == 302
    assert hidden.get_absolute_url() not in client.get(response["Location"]).text
    # bob sees it, so he is asked.
    client.force_login(bob)
    response = client.post(CREATE, post(name="Bob's Secret"))
    assert response.status_code == 200 and hidden.get_absolute_url() in response.text


def test_bad_input_is_400_before_any_duplicate_question(client, alice, acme):
    client.force_login(alice)
    response = client.post(CREATE, post(name="Acme", website="javascript:alert(1)"))
    assert response.status_code == 400
    assert "Did you mean" not in response.text
    assert "website" in response.context["form"].errors
    assert Company.objects.count() == 1


def test_bad_input_with_confirmation_still_saves_nothing(client, alice, acme):
    client.force_login(alice)
    response = client.post(CREATE, post(name="x" * 201, confirm_duplicate="1"))
    assert response.status_code == 400
    assert Company.objects.count() == 1


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_a_hostile_name_in_the_question_is_escaped(client, alice, team_a, text):
    CompanyFactory(team=team_a, name=text)
    client.force_login(alice)
    response = client.post(CREATE, post(name=text))
    assert "Did you mean" in response.text
    assert text not in response.text
    assert escape(text) in response.text


def test_at_most_five_matches_are_listed(client, alice, team_a):
    for i in range(7):
        CompanyFactory(team=team_a, name=f"Acme {'A/S' if i % 2 else 'ApS'}", domain=f"a{i}.dk")
    client.force_login(alice)
    response = client.post(CREATE, post(name="Acme"))
    assert len(response.context["matches"]) == 5
    assert Company.objects.count() == 7


# --- edit ---------------------------------------------------------------------------------


def test_renaming_to_an_existing_name_asks_first(client, alice, team_a, acme):
    mine = CompanyFactory(team=team_a, owner=alice, name="Beta", domain="beta.dk")
    before = snapshot(mine)
    client.force_login(alice)
    url = reverse("company-update", args=[mine.pk])
    response = client.post(url, post(name="ACME", domain="beta.dk"))
    assert response.status_code == 200
    assert "Did you mean" in response.text
    assert "Save anyway" in response.text
    assert acme.get_absolute_url() in response.text
    assert snapshot(mine) == before
    confirmed = client.post(url, post(name="ACME", domain="beta.dk", confirm_duplicate="1"))
    assert confirmed.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "ACME"


def test_editing_a_known_look_alike_without_renaming_does_not_ask(client, alice, team_a, acme):
    twin = CompanyFactory(team=team_a, owner=alice, name="Acme ApS", domain="acme.dk")
    client.force_login(alice)
    url = reverse("company-update", args=[twin.pk])
    response = client.post(url, post(name="Acme ApS", domain="acme.dk", phone="+45 70 00 00 00"))
    assert response.status_code == 302
    twin.refresh_from_db()
    assert twin.phone == "+45 70 00 00 00"


def test_a_company_is_never_its_own_duplicate(client, alice, team_a):
    mine = CompanyFactory(team=team_a, owner=alice, name="Solo", domain="solo.dk")
    client.force_login(alice)
    url = reverse("company-update", args=[mine.pk])
    response = client.post(url, post(name="Solo A/S", domain="www.solo.dk"))
    assert response.status_code == 302


def test_outsider_confirming_on_edit_gets_404_and_nothing_changes(client, carol, acme):
    before = snapshot(acme)
    client.force_login(carol)
    url = reverse("company-update", args=[acme.pk])
    response = client.post(url, post(name="Taken", confirm_duplicate="1"))
    assert response.status_code == 404
    assert snapshot(acme) == before


def test_read_only_user_confirming_on_edit_gets_403_and_nothing_changes(client, alex, acme):
    before = snapshot(acme)
    client.force_login(alex)
    url = reverse("company-update", args=[acme.pk])
    response = client.post(url, post(name="Taken", confirm_duplicate="1"))
    assert response.status_code == 403
    assert snapshot(acme) == before


# --- the selector -------------------------------------------------------------------------


def test_selector_ranks_name_and_domain_first(alice, team_a):
    by_domain = CompanyFactory(team=team_a, name="Zeta", domain="acme.dk")
    by_name = CompanyFactory(team=team_a, name="Acme AB", domain="other.se")
    both = CompanyFactory(team=team_a, name="ACME A/S", domain="www.acme.dk")
    CompanyFactory(team=team_a, name="Unrelated", domain="unrelated.dk")
    matches = company_duplicates_for_user(
        user=alice, team_id=team_a.pk, name="Acme", domain="acme.dk"
    )
    assert [(m.company, m.same_name, m.same_domain) for m in matches] == [
        (both, True, True),
        (by_name, True, False),
        (by_domain, False, True),
    ]


def test_selector_with_nothing_to_compare_asks_nothing(alice, team_a):
    CompanyFactory(team=team_a, name="---", domain="")
    with CaptureQueriesContext(connection) as ctx:
        assert company_duplicates_for_user(user=alice, team_id=team_a.pk, name="---") == []
    assert len(ctx.captured_queries) == 0


def _selector_queries(user, team) -> int:
    with CaptureQueriesContext(connection) as ctx:
        company_duplicates_for_user(user=user, team_id=team.pk, name="Acme", domain="acme.dk")
    return len(ctx.captured_queries)


def test_selector_query_count_does_not_grow_with_companies(alice, team_a):
    def add(n):
        for i in range(n):
            CompanyFactory(team=team_a, name=f"Acme {i}", domain=f"acme{i}.dk")
        CompanyFactory(team=team_a, name="Acme", domain="")

    add(3)
    _selector_queries(alice, team_a)  # reads the memberships once; `access_for` keeps them
    # the team's visible names, domains and websites; the matches with their owners.
    assert _selector_queries(alice, team_a) == 2
    add(300)
    assert _selector_queries(alice, team_a) == 2
