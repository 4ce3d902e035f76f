"""Contact pages: contacts follow their company for who may see and change them.

alice: salesperson, team A · alex: salesperson, team A · bob: manager, team A ·
carol: salesperson, team B · admin.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from crm.models import Contact, Note
from tests.factories import CompanyFactory, ContactFactory, DealFactory

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    'hx-get="/x"',
]


def snapshot(contact: Contact) -> dict:
    return Contact.objects.filter(pk=contact.pk).values().get()


@pytest.fixture
def alice_company(team_a, alice):
    return CompanyFactory(team=team_a, owner=alice, name="Alice Industries")


@pytest.fixture
def alice_contact(alice_company):
    return ContactFactory(
        company=alice_company, name="Dorthe Dahl", email="dorthe@alice.dk", title="CFO"
    )


@pytest.fixture
def carol_company(team_b, carol):
    return CompanyFactory(team=team_b, owner=carol, name="Carol Corp")


@pytest.fixture
def carol_contact(carol_company):
    return ContactFactory(company=carol_company, name="Sven Svensson")


def valid_post(target, **overrides) -> dict:
    data = {
        "company": target.pk,
        "name": "Ida Iversen",
        "email": "ida@example.com",
        "phone": "+45 12 34 56 78",
        "title": "Head of IT",
    }
    data.update(overrides)
    return data


# --- list and search ----------------------------------------------------------------------


def test_list_shows_contacts_of_visible_companies_only(client, alice, alice_contact, carol_contact):
    client.force_login(alice)
    response = client.get(reverse("contact-list"))
    assert response.status_code == 200
    assert "Dorthe Dahl" in response.text
    assert "Sven Svensson" not in response.text


def test_outsider_never_finds_team_a_contacts(client, carol, alice_contact, carol_contact):
    client.force_login(carol)
    for q in ("Dorthe", "alice.dk", "Alice Industries"):
        text = client.get(reverse("contact-list"), {"q": q}).text
        assert "Dorthe Dahl" not in text
        assert "No results for" in text


def test_search_matches_name_email_and_company(client, alice, alice_contact, team_a):
    other = ContactFactory(
        company=CompanyFactory(team=team_a, name="Bakeriet"), name="Per Hansen", email="p@b.dk"
    )
    client.force_login(alice)
    for q, found in (("dorthe", alice_contact), ("P@B.DK", other), ("bakeri", other)):
        page = client.get(reverse("contact-list"), {"q": q}).context["page"]
        assert list(page.object_list) == [found]


def test_paging_keeps_the_search(client, alice, alice_company):
    ContactFactory.create_batch(27, company=alice_company, name="Berit")
    client.force_login(alice)
    first = client.get(reverse("contact-list"), {"q": "berit"})
    assert len(first.context["page"].object_list) == 25
    assert "?q=berit&amp;page=2" in first.text
    second = client.get(reverse("contact-list"), {"q": "berit", "page": "2"})
    assert len(second.context["page"].object_list) == 2


def test_empty_list_invites_to_add_the_first_contact(client, alice):
    client.force_login(alice)
    assert "No contacts yet" in client.get(reverse("contact-list")).text


@pytest.mark.parametrize("params", [{"page": "two"}, {"page": "0"}, {"q": "q" * 101}])
def test_bad_search_parameters_get_400(client, alice, params):
    client.force_login(alice)
    assert client.get(reverse("contact-list"), params).status_code == 400


def test_own_deals_only_team_hides_contacts_of_others_companies(client, alice, bob, team_a):
    team_a.own_deals_only = True
    team_a.save()
    ContactFactory(company=CompanyFactory(team=team_a, owner=bob), name="Bobs Contact")
    ContactFactory(company=CompanyFactory(team=team_a, owner=alice), name="Alices Contact")
    client.force_login(alice)
    text = client.get(reverse("contact-list")).text
    assert "Alices Contact" in text
    assert "Bobs Contact" not in text


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_contact_name_is_escaped_everywhere(client, alice, alice_company, text):
    contact = ContactFactory(company=alice_company, name=text, title=text)
    client.force_login(alice)
    urls = (reverse("contact-list"), contact.get_absolute_url(), alice_company.get_absolute_url())
    for url in urls:
        body = client.get(url).text
        if text != escape(text):
            assert text not in body
        assert escape(text) in body


# --- detail -------------------------------------------------------------------------------


def test_detail_shows_contact_company_and_visible_deals(client, alice, alice_contact, stages_a):
    DealFactory(
        stage=stages_a[0], company=alice_contact.company, contact=alice_contact, title="Pilot"
    )
    client.force_login(alice)
    response = client.get(alice_contact.get_absolute_url())
    assert response.status_code == 200
    assert "Dorthe Dahl" in response.text
    assert "Alice Industries" in response.text
    assert "Pilot" in response.text


def test_outsider_gets_404_on_detail(client, carol, alice_contact):
    client.force_login(carol)
    assert client.get(alice_contact.get_absolute_url()).status_code == 404


# --- create -------------------------------------------------------------------------------


def test_add_a_contact(client, alice, alice_company):
    client.force_login(alice)
    response = client.post(reverse("contact-create"), valid_post(alice_company))
    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == contact.get_absolute_url()
    assert (contact.company, contact.name, contact.phone) == (
        alice_company,
        "Ida Iversen",
        "+45 12 34 56 78",
    )


def test_create_form_preselects_the_company(client, alice, alice_company):
    client.force_login(alice)
    response = client.get(reverse("contact-create"), {"company": alice_company.pk})
    assert response.status_code == 200
    assert f'<input type="hidden" name="company" value="{alice_company.pk}"' in response.text
    assert 'name="company_text" value="Alice Industries"' in response.text


def test_create_form_offers_only_companies_the_user_may_change(
    client, alex, alice_company, team_a, carol_company
):
    own = CompanyFactory(team=team_a, owner=alex, name="Alex Own")
    client.force_login(alex)
    options = client.get(reverse("contact-create")).context["form"].fields["company"].queryset
    assert list(options) == [own]


def test_preselecting_a_foreign_company_gets_404(client, carol, alice_company):
    client.force_login(carol)
    response = client.get(reverse("contact-create"), {"company": alice_company.pk})
    assert response.status_code == 404


def test_preselecting_a_read_only_company_gets_403(client, alex, alice_company):
    client.force_login(alex)
    response = client.get(reverse("contact-create"), {"company": alice_company.pk})
    assert response.status_code == 403


@pytest.mark.parametrize("value", ["abc", "-1", "1" * 30])
def test_preselecting_garbage_gets_400(client, alice, value):
    client.force_login(alice)
    assert client.get(reverse("contact-create"), {"company": value}).status_code == 400


def test_outsider_cannot_file_a_contact_under_a_foreign_company(client, carol, alice_company):
    client.force_login(carol)
    response = client.post(reverse("contact-create"), valid_post(alice_company))
    assert response.status_code == 400
    assert "company" in response.context["form"].errors
    assert Contact.objects.count() == 0


def test_read_only_user_cannot_file_a_contact_under_a_company(client, alex, alice_company):
    client.force_login(alex)
    response = client.post(reverse("contact-create"), valid_post(alice_company))
    assert response.status_code == 400
    assert "company" in response.context["form"].errors
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me maybe"}, "phone"),
        ({"phone": "1" * 41}, "phone"),
        ({"title": "t" * 121}, "title"),
        ({"company": "999999"}, "company"),
        ({"company": "x"}, "company"),
    ],
)
def test_bad_input_gets_400_next_to_the_field_and_creates_nothing(
    client, alice, alice_company, overrides, field
):
    client.force_login(alice)
    response = client.post(reverse("contact-create"), valid_post(alice_company, **overrides))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert "has-error" in response.text
    assert Contact.objects.count() == 0


# --- update -------------------------------------------------------------------------------


def test_edit_a_contact(client, alice, alice_contact):
    client.force_login(alice)
    url = reverse("contact-update", args=[alice_contact.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, valid_post(alice_contact.company, name="Dorthe Dahl-Berg"))
    assert response.status_code == 302
    alice_contact.refresh_from_db()
    assert alice_contact.name == "Dorthe Dahl-Berg"
    assert alice_contact.title == "Head of IT"


def test_saving_unchanged_values_writes_nothing(client, alice, alice_contact):
    before = snapshot(alice_contact)
    client.force_login(alice)
    data = {k: before[k] for k in ("name", "email", "phone", "title")}
    data["company"] = alice_contact.company_id
    response = client.post(reverse("contact-update", args=[alice_contact.pk]), data, follow=True)
    assert "Nothing to save." in response.text
    assert snapshot(alice_contact) == before


def test_manager_edits_any_team_contact(client, bob, alice_contact):
    client.force_login(bob)
    url = reverse("contact-update", args=[alice_contact.pk])
    assert client.post(url, valid_post(alice_contact.company)).status_code == 302
    alice_contact.refresh_from_db()
    assert alice_contact.name == "Ida Iversen"


def test_move_contact_to_another_company_the_user_may_change(client, alice, alice_contact, team_a):
    other = CompanyFactory(team=team_a, owner=None)
    client.force_login(alice)
    url = reverse("contact-update", args=[alice_contact.pk])
    assert client.post(url, valid_post(other)).status_code == 302
    alice_contact.refresh_from_db()
    assert alice_contact.company == other


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404_on_edit_and_nothing_changes(client, carol, alice_contact, method):
    before = snapshot(alice_contact)
    client.force_login(carol)
    url = reverse("contact-update", args=[alice_contact.pk])
    response = getattr(client, method)(url, valid_post(alice_contact.company))
    assert response.status_code == 404
    assert snapshot(alice_contact) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_read_only_user_gets_403_on_edit_and_nothing_changes(client, alex, alice_contact, method):
    before = snapshot(alice_contact)
    client.force_login(alex)
    url = reverse("contact-update", args=[alice_contact.pk])
    response = getattr(client, method)(url, valid_post(alice_contact.company))
    assert response.status_code == 403
    assert snapshot(alice_contact) == before


def test_bad_input_on_edit_gets_400_and_nothing_changes(client, alice, alice_contact):
    before = snapshot(alice_contact)
    client.force_login(alice)
    response = client.post(
        reverse("contact-update", args=[alice_contact.pk]),
        valid_post(alice_contact.company, email="@@", name=""),
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"email", "name"}
    assert snapshot(alice_contact) == before


def test_cannot_move_a_contact_to_a_company_the_user_may_not_change(
    client, alice, alice_contact, team_a, bob, carol_company
):
    bobs = CompanyFactory(team=team_a, owner=bob)
    before = snapshot(alice_contact)
    client.force_login(alice)
    url = reverse("contact-update", args=[alice_contact.pk])
    for target in (bobs, carol_company):
        response = client.post(url, valid_post(target))
        assert response.status_code == 400
        assert "company" in response.context["form"].errors
    assert snapshot(alice_contact) == before


# --- notes --------------------------------------------------------------------------------


def test_add_a_note_to_a_contact(client, alice, alice_contact):
    client.force_login(alice)
    url = reverse("contact-note-create", args=[alice_contact.pk])
    assert client.post(url, {"body": "Prefers email."}).status_code == 302
    note = Note.objects.get()
    assert (note.contact, note.company, note.author) == (alice_contact, None, alice)
    assert "Prefers email." in client.get(alice_contact.get_absolute_url()).text


def test_outsider_gets_404_on_note_and_nothing_is_added(client, carol, alice_contact):
    client.force_login(carol)
    url = reverse("contact-note-create", args=[alice_contact.pk])
    assert client.post(url, {"body": "x"}).status_code == 404
    assert Note.objects.count() == 0


def test_read_only_user_gets_403_on_note_and_nothing_is_added(client, alex, alice_contact):
    client.force_login(alex)
    url = reverse("contact-note-create", args=[alice_contact.pk])
    assert client.post(url, {"body": "x"}).status_code == 403
    assert Note.objects.count() == 0


def test_bad_note_gets_400_and_nothing_is_added(client, alice, alice_contact):
    client.force_login(alice)
    url = reverse("contact-note-create", args=[alice_contact.pk])
    response = client.post(url, {"body": "n" * 5001})
    assert response.status_code == 400
    assert "has-error" in response.text
    assert Note.objects.count() == 0


def test_missing_contact_gets_404_on_every_path(client, alice):
    client.force_login(alice)
    assert client.get(reverse("contact-detail", args=[424242])).status_code == 404
    assert client.post(reverse("contact-update", args=[424242]), {}).status_code == 404
    assert client.post(reverse("contact-note-create", args=[424242]), {}).status_code == 404
