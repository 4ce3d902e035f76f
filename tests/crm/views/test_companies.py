"""Company pages: list, search, paging, detail, create, edit and notes, held to the access rules.

alice: salesperson, team A · alex: salesperson, team A · bob: manager, team A ·
carol: salesperson, team B · admin.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Role
from crm.models import Company, Note
from tests.factories import CompanyFactory, ContactFactory, DealFactory, MembershipFactory

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    'hx-get="/x"',
]


def snapshot(company: Company) -> dict:
    """Every stored field of the company, read fresh from the database."""
    return Company.objects.filter(pk=company.pk).values().get()


def valid_post(**overrides) -> dict:
    data = {"name": "Acme A/S", "domain": "acme.example", "tier": "B"}
    data.update(overrides)
    return data


@pytest.fixture
def alice_company(team_a, alice):
    return CompanyFactory(team=team_a, owner=alice, name="Alice Industries", domain="alice.dk")


@pytest.fixture
def carol_company(team_b, carol):
    return CompanyFactory(team=team_b, owner=carol, name="Carol Corp", domain="carol.se")


# --- list, search, paging -----------------------------------------------------------------


def test_list_shows_own_team_companies_only(client, alice, alice_company, carol_company):
    client.force_login(alice)
    response = client.get(reverse("company-list"))
    assert response.status_code == 200
    assert "Alice Industries" in response.text
    assert "Carol Corp" not in response.text


def test_outsider_never_sees_team_a_companies_in_list_or_search(
    client, carol, alice_company, carol_company
):
    client.force_login(carol)
    assert "Alice Industries" not in client.get(reverse("company-list")).text
    response = client.get(reverse("company-list"), {"q": "Alice"})
    assert response.status_code == 200
    assert "Alice Industries" not in response.text
    assert "No results for" in response.text


def test_search_matches_name_and_domain(client, alice, team_a):
    CompanyFactory(team=team_a, name="Fjord Fisk", domain="fjordfisk.no")
    CompanyFactory(team=team_a, name="Bakeriet", domain="brod.dk")
    client.force_login(alice)
    by_name = client.get(reverse("company-list"), {"q": "fjord"}).text
    assert "Fjord Fisk" in by_name and "Bakeriet" not in by_name
    by_domain = client.get(reverse("company-list"), {"q": "BROD.dk"}).text
    assert "Bakeriet" in by_domain and "Fjord Fisk" not in by_domain


def test_empty_list_invites_to_add_the_first_company(client, alice):
    client.force_login(alice)
    response = client.get(reverse("company-list"))
    assert "No companies yet" in response.text
    assert reverse("company-create") in response.text


def test_paging_25_per_page_keeps_the_search(client, alice, team_a):
    for i in range(30):
        CompanyFactory(team=team_a, name=f"Nordic {i:02d}")
    CompanyFactory(team=team_a, name="Other")
    client.force_login(alice)
    first = client.get(reverse("company-list"), {"q": "nordic"})
    assert len(first.context["page"].object_list) == 25
    assert "?q=nordic&amp;page=2" in first.text
    second = client.get(reverse("company-list"), {"q": "nordic", "page": 2})
    assert [c.name for c in second.context["page"].object_list] == [
        f"Nordic {i:02d}" for i in range(25, 30)
    ]
    assert "?q=nordic&amp;page=1" in second.text


def test_page_past_the_end_shows_the_last_page(client, alice, alice_company):
    client.force_login(alice)
    response = client.get(reverse("company-list"), {"page": 99})
    assert response.status_code == 200
    assert "Alice Industries" in response.text


@pytest.mark.parametrize(
    "params",
    [{"page": "abc"}, {"page": "0"}, {"page": "-1"}, {"page": "1e9"}, {"q": "x" * 101}],
)
def test_bad_search_parameters_get_400_with_a_message(client, alice, params):
    client.force_login(alice)
    response = client.get(reverse("company-list"), params)
    assert response.status_code == 400
    assert "That did not work" in response.text


def test_bad_search_over_htmx_gets_a_toast(client, alice):
    client.force_login(alice)
    response = client.get(reverse("company-list"), {"page": "x"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#toasts"
    assert "<html" not in response.text


def test_htmx_search_returns_only_the_results(client, alice, alice_company):
    client.force_login(alice)
    response = client.get(reverse("company-list"), {"q": "alice"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="results">')
    assert "Alice Industries" in response.text
    assert "<html" not in response.text


def test_own_deals_only_team_hides_others_companies_from_a_salesperson(client, alice, bob, team_a):
    team_a.own_deals_only = True
    team_a.save()
    CompanyFactory(team=team_a, owner=alice, name="Mine")
    CompanyFactory(team=team_a, owner=None, name="Nobody's")
    CompanyFactory(team=team_a, owner=bob, name="Bob's")
    client.force_login(alice)
    text = client.get(reverse("company-list")).text
    assert "Mine" in text and "Nobody&#x27;s" in text
    assert "Bob&#x27;s" not in text
    assert "Bob&#x27;s" not in client.get(reverse("company-list"), {"q": "bob"}).text
    client.force_login(bob)
    assert "Bob&#x27;s" in client.get(reverse("company-list")).text


def test_counts_contacts_and_visible_open_deals_only(client, alice, alex, team_a, stages_a):
    team_a.own_deals_only = True
    team_a.save()
    company = CompanyFactory(team=team_a, owner=None, name="Shared")
    ContactFactory.create_batch(3, company=company)
    DealFactory(stage=stages_a[0], company=company, owner=alice)
    DealFactory(stage=stages_a[0], company=company, owner=None)
    DealFactory(stage=stages_a[1], company=company, owner=alex)  # not visible to alice
    DealFactory(stage=stages_a[1], company=company, owner=alice, status="won")  # not open
    client.force_login(alice)
    row = client.get(reverse("company-list")).context["page"].object_list[0]
    assert (row.contact_count, row.open_deal_count) == (3, 2)


def _list_queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("company-list"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(client, alice, team_a, stages_a):
    def add(n):
        for _ in range(n):
            company = CompanyFactory(team=team_a, owner=alice)
            ContactFactory(company=company)
            DealFactory(stage=stages_a[0], company=company)

    add(3)
    # the user with their memberships (the session comes from the shared cache), COUNT for the
    # paginator, the page of companies with owner joined and contact / open-deal counts as
    # subqueries.
    assert _list_queries(client, alice) == 3
    add(30)
    assert _list_queries(client, alice) == 3


# --- detail -------------------------------------------------------------------------------


def test_detail_shows_facts_contacts_and_deals(client, alice, alice_company, stages_a):
    ContactFactory(company=alice_company, name="Dorthe Dahl")
    deal = DealFactory(stage=stages_a[2], company=alice_company, title="Big renewal")
    client.force_login(alice)
    response = client.get(alice_company.get_absolute_url())
    assert response.status_code == 200
    assert "Dorthe Dahl" in response.text
    assert "Big renewal" in response.text
    assert deal.get_absolute_url() in response.text
    assert "Proposal" in response.text
    assert "alice.dk" in response.text


def test_detail_shows_only_deals_the_user_may_see(client, alice, alex, team_a, stages_a):
    team_a.own_deals_only = True
    team_a.save()
    company = CompanyFactory(team=team_a, owner=None)
    DealFactory(stage=stages_a[0], company=company, owner=alice, title="Alice deal")
    DealFactory(stage=stages_a[0], company=company, owner=alex, title="Alex secret")
    client.force_login(alice)
    response = client.get(company.get_absolute_url())
    assert "Alice deal" in response.text
    assert "Alex secret" not in response.text


def test_outsider_gets_404_on_detail(client, carol, alice_company):
    client.force_login(carol)
    assert client.get(alice_company.get_absolute_url()).status_code == 404


def test_missing_company_gets_404(client, alice):
    client.force_login(alice)
    assert client.get(reverse("company-detail", args=[999999])).status_code == 404


def test_read_only_user_sees_the_page_without_edit_controls(client, alex, alice_company):
    client.force_login(alex)
    response = client.get(alice_company.get_absolute_url())
    assert response.status_code == 200
    assert reverse("company-update", args=[alice_company.pk]) not in response.text
    assert reverse("company-note-create", args=[alice_company.pk]) not in response.text


def test_anonymous_is_sent_to_login(client, alice_company):
    response = client.get(alice_company.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_company_name_is_escaped_on_list_and_detail(client, alice, team_a, text):
    company = CompanyFactory(team=team_a, owner=alice, name=text)
    client.force_login(alice)
    for url in (reverse("company-list"), company.get_absolute_url()):
        body = client.get(url).text
        if text != escape(text):
            assert text not in body
        assert escape(text) in body


# --- create -------------------------------------------------------------------------------


def test_salesperson_adds_a_company_to_their_team_and_owns_it(client, alice, team_a):
    client.force_login(alice)
    response = client.post(reverse("company-create"), valid_post())
    company = Company.objects.get()
    assert response.status_code == 302
    assert response["Location"] == company.get_absolute_url()
    assert (company.name, company.domain, company.team, company.owner) == (
        "Acme A/S",
        "acme.example",
        team_a,
        alice,
    )
    # Salespeople do not set tiers: the posted tier is ignored, the recompute decides.
    assert (company.tier, company.tier_locked) == ("C", False)


def test_create_form_renders(client, alice):
    client.force_login(alice)
    response = client.get(reverse("company-create"))
    assert response.status_code == 200
    assert 'name="team"' not in response.text  # one team: nothing to choose
    assert 'name="owner"' not in response.text  # salespeople cannot hand companies out


def test_salesperson_cannot_choose_team_or_owner_by_posting_them(
    client, alice, bob, team_a, team_b
):
    client.force_login(alice)
    client.post(reverse("company-create"), valid_post(team=team_b.pk, owner=bob.pk))
    company = Company.objects.get()
    assert (company.team, company.owner) == (team_a, alice)


def test_domain_is_reduced_to_the_host(client, alice):
    client.force_login(alice)
    client.post(reverse("company-create"), valid_post(domain="https://WWW.Example.com/about?x=1"))
    assert Company.objects.get().domain == "www.example.com"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"domain": "exa mple.com"}, "domain", "cannot contain spaces"),
        ({"domain": "localhost"}, "domain", "like example.com"),
        ({"domain": "javascript:alert(1)"}, "domain", "like example.com"),
        ({"domain": "x" * 250 + ".com"}, "domain", "at most 200 characters"),
        ({"tier": "Z"}, "tier", "Select a valid choice"),
    ],
)
def test_bad_input_gets_400_next_to_the_field_and_creates_nothing(
    client, bob, data, field, message
):
    client.force_login(bob)
    response = client.post(reverse("company-create"), valid_post(**data))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert "has-error" in response.text
    assert Company.objects.count() == 0


def test_manager_may_give_the_company_to_a_team_member(client, bob, alex, team_a):
    client.force_login(bob)
    response = client.post(reverse("company-create"), valid_post(owner=alex.pk))
    assert response.status_code == 302
    assert Company.objects.get().owner == alex


def test_manager_cannot_give_the_company_to_another_team(client, bob, carol):
    client.force_login(bob)
    response = client.post(reverse("company-create"), valid_post(owner=carol.pk))
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert Company.objects.count() == 0


def test_admin_chooses_the_team_and_owner_must_belong_to_it(client, admin, alice, carol, team_b):
    client.force_login(admin)
    response = client.post(reverse("company-create"), valid_post(team=team_b.pk, owner=alice.pk))
    assert response.status_code == 400
    assert "not a member of Team B" in " ".join(response.context["form"].errors["owner"])
    assert Company.objects.count() == 0
    response = client.post(reverse("company-create"), valid_post(team=team_b.pk, owner=carol.pk))
    assert response.status_code == 302
    assert (Company.objects.get().team, Company.objects.get().owner) == (team_b, carol)


def test_member_of_two_teams_cannot_file_under_a_third(client, alice, team_a, team_b):
    other = MembershipFactory(user=alice, team__name="Team C", role=Role.SALESPERSON).team
    client.force_login(alice)
    response = client.post(reverse("company-create"), valid_post(team=team_b.pk))
    assert response.status_code == 400
    assert "team" in response.context["form"].errors
    assert Company.objects.count() == 0
    assert client.post(reverse("company-create"), valid_post(team=other.pk)).status_code == 302
    assert Company.objects.get().team == other


# --- update -------------------------------------------------------------------------------


def test_owner_edits_their_company(client, alice, alice_company):
    client.force_login(alice)
    assert client.get(reverse("company-update", args=[alice_company.pk])).status_code == 200
    response = client.post(
        reverse("company-update", args=[alice_company.pk]),
        valid_post(name="Alice Holding", domain="alice.no", tier="A"),
    )
    assert response.status_code == 302
    alice_company.refresh_from_db()
    assert (alice_company.name, alice_company.domain, alice_company.tier) == (
        "Alice Holding",
        "alice.no",
        "C",  # only managers and admins set a tier by hand
    )
    assert alice_company.tier_locked is False
    assert alice_company.owner == alice


def test_saving_unchanged_values_writes_nothing(client, alice, alice_company):
    before = snapshot(alice_company)
    client.force_login(alice)
    data = valid_post(name=before["name"], domain=before["domain"], tier=before["tier"])
    response = client.post(reverse("company-update", args=[alice_company.pk]), data, follow=True)
    assert "Nothing to save." in response.text
    assert snapshot(alice_company) == before


def test_salesperson_may_edit_an_unowned_company_of_their_team(client, alex, team_a):
    company = CompanyFactory(team=team_a, owner=None)
    client.force_login(alex)
    response = client.post(reverse("company-update", args=[company.pk]), valid_post())
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.name == "Acme A/S"
    assert company.owner is None


def test_manager_edits_and_reassigns_a_team_company(client, bob, alex, alice_company):
    client.force_login(bob)
    response = client.post(
        reverse("company-update", args=[alice_company.pk]), valid_post(owner=alex.pk)
    )
    assert response.status_code == 302
    alice_company.refresh_from_db()
    assert alice_company.owner == alex


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404_on_edit_and_nothing_changes(client, carol, alice_company, method):
    before = snapshot(alice_company)
    client.force_login(carol)
    url = reverse("company-update", args=[alice_company.pk])
    response = getattr(client, method)(url, valid_post(name="Hacked"))
    assert response.status_code == 404
    assert snapshot(alice_company) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_read_only_user_gets_403_on_edit_and_nothing_changes(client, alex, alice_company, method):
    before = snapshot(alice_company)
    client.force_login(alex)
    url = reverse("company-update", args=[alice_company.pk])
    response = getattr(client, method)(url, valid_post(name="Taken over"))
    assert response.status_code == 403
    assert snapshot(alice_company) == before


def test_read_only_user_gets_a_toast_over_htmx(client, alex, alice_company):
    client.force_login(alex)
    response = client.post(
        reverse("company-update", args=[alice_company.pk]), valid_post(), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#toasts"


def test_bad_input_on_edit_gets_400_and_nothing_changes(client, alice, alice_company):
    before = snapshot(alice_company)
    client.force_login(alice)
    response = client.post(
        reverse("company-update", args=[alice_company.pk]),
        valid_post(name="", domain="not a domain"),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"name", "domain"}
    assert snapshot(alice_company) == before


def test_salesperson_cannot_reassign_by_posting_an_owner(client, alice, alex, alice_company):
    client.force_login(alice)
    client.post(reverse("company-update", args=[alice_company.pk]), valid_post(owner=alex.pk))
    alice_company.refresh_from_db()
    assert alice_company.owner == alice


# --- notes --------------------------------------------------------------------------------


def test_owner_adds_a_note(client, alice, alice_company):
    client.force_login(alice)
    url = reverse("company-note-create", args=[alice_company.pk])
    response = client.post(url, {"body": "  Called the CFO.  "})
    assert response.status_code == 302
    note = Note.objects.get()
    assert (note.company, note.author, note.body) == (alice_company, alice, "Called the CFO.")
    assert "Called the CFO." in client.get(alice_company.get_absolute_url()).text


def test_outsider_gets_404_on_note_and_nothing_is_added(client, carol, alice_company):
    client.force_login(carol)
    url = reverse("company-note-create", args=[alice_company.pk])
    assert client.post(url, {"body": "hello"}).status_code == 404
    assert Note.objects.count() == 0


def test_read_only_user_gets_403_on_note_and_nothing_is_added(client, alex, alice_company):
    client.force_login(alex)
    url = reverse("company-note-create", args=[alice_company.pk])
    assert client.post(url, {"body": "hello"}).status_code == 403
    assert Note.objects.count() == 0


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001])
def test_bad_note_gets_400_and_nothing_is_added(client, alice, alice_company, body):
    client.force_login(alice)
    response = client.post(reverse("company-note-create", args=[alice_company.pk]), {"body": body})
    assert response.status_code == 400
    assert "has-error" in response.text
    assert Note.objects.count() == 0


def test_note_needs_post(client, alice, alice_company):
    client.force_login(alice)
    url = reverse("company-note-create", args=[alice_company.pk])
    assert client.get(url).status_code == 405


def test_hostile_note_is_escaped(client, alice, alice_company):
    client.force_login(alice)
    client.post(reverse("company-note-create", args=[alice_company.pk]), {"body": HOSTILE[0]})
    body = client.get(alice_company.get_absolute_url()).text
    assert HOSTILE[0] not in body
    assert escape(HOSTILE[0]) in body
