"""The facts a B2B firm keeps about a customer: address, country, phone, website and
registration number; all optional, validated, shown on the company page and editable.

alice: salesperson, team A · alex: salesperson, team A · carol: salesperson, team B.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from crm import services
from crm.models import Company
from tests.factories import CompanyFactory

CREATE = reverse("company-create")


def post(**overrides) -> dict:
    data = {
        "name": "Nordlys A/S",
        "domain": "nordlys.dk",
        "website": "WWW.Nordlys.dk/",
        "phone": "+45 70 20 30 40",
        "registration_number": "DK12345678",
        "country": "DK",
        "address": "Havnegade 1\n1058 København K",
    }
    data.update(overrides)
    return data


def snapshot(company: Company) -> dict:
    return Company.objects.filter(pk=company.pk).values().get()


@pytest.fixture
def alice_company(team_a, alice):
    return CompanyFactory(team=team_a, owner=alice, name="Alice Industries", domain="alice.dk")


def test_create_stores_the_details_normalised_and_the_page_shows_them(client, alice):
    client.force_login(alice)
    response = client.post(CREATE, post())
    company = Company.objects.get()
    assert response.status_code == 302
    assert company.website == "https://www.nordlys.dk"
    assert (company.phone, company.registration_number, company.country.code) == (
        "+45 70 20 30 40",
        "DK12345678",
        "DK",
    )
    assert company.address == "Havnegade 1\n1058 København K"
    page = client.get(company.get_absolute_url()).text
    assert (
        '<a href="https://www.nordlys.dk" rel="noopener noreferrer nofollow" target="_blank">www.nordlys.dk</a>'
        in page
    )
    assert 'href="tel:+4570203040"' in page
    assert "DK12345678" in page
    assert "Denmark" in page
    assert "Havnegade 1<br>1058 København K" in page


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.nordlys.dk/kontakt", "nordlys.dk"),
        ("shop.nordlys.no", "shop.nordlys.no"),
        ("http://10.0.0.1/", ""),  # no web domain to take
    ],
)
def test_an_empty_domain_is_taken_from_the_website(client, alice, website, domain):
    client.force_login(alice)
    assert client.post(CREATE, post(domain="", website=website)).status_code == 302
    assert Company.objects.get().domain == domain


def test_a_given_domain_is_kept_beside_the_website(client, alice):
    client.force_login(alice)
    client.post(CREATE, post(domain="nordlys.com", website="https://nordlys.dk"))
    assert Company.objects.get().domain == "nordlys.com"


def test_every_detail_is_optional(client, alice):
    client.force_login(alice)
    empty = dict.fromkeys(["website", "phone", "registration_number", "country", "address"], "")
    response = client.post(CREATE, post(**empty))
    assert response.status_code == 302
    company = Company.objects.get()
    assert (company.website, company.phone, company.address, company.country.code) == (
        "",
        "",
        "",
        "",
    )
    page = client.get(company.get_absolute_url())
    assert page.status_code == 200 and "Registration number" in page.text


def test_the_form_offers_every_country_with_a_help_for_the_registration_number(client, alice):
    client.force_login(alice)
    page = client.get(CREATE).text
    assert '<option value="DK">Denmark</option>' in page
    assert '<option value="NO">Norway</option>' in page
    assert '<option value="JP">Japan</option>' in page
    assert "CVR, org.nr., VAT id" in page


def test_country_names_follow_the_language(client, alice, alice_company):
    alice_company.country = "DE"
    alice_company.save()
    client.force_login(alice)
    page = client.get(alice_company.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="da").text
    assert "Tyskland" in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"website": "javascript:alert(1)"}, "website", "web address"),
        ({"website": "ftp://nordlys.dk"}, "website", "web address"),
        ({"website": "not a website"}, "website", "web address"),
        ({"website": "https://" + "x" * 200 + ".dk"}, "website", "at most 200"),
        ({"phone": "call me"}, "phone", "digits"),
        ({"phone": "1" * 41}, "phone", "at most 40"),
        ({"registration_number": "x" * 41}, "registration_number", "at most 40"),
        ({"address": "x" * 501}, "address", "at most 500"),
        ({"country": "XX"}, "country", "valid choice"),
        ({"country": "Denmark"}, "country", "valid choice"),
    ],
)
def test_bad_details_get_400_next_to_the_field_and_save_nothing(
    client, alice, alice_company, data, field, message
):
    before = snapshot(alice_company)
    client.force_login(alice)
    created = client.post(CREATE, post(**data))
    assert created.status_code == 400
    assert message in " ".join(created.context["form"].errors[field])
    assert "has-error" in created.text
    edited = client.post(reverse("company-update", args=[alice_company.pk]), post(**data))
    assert edited.status_code == 400
    assert Company.objects.count() == 1
    assert snapshot(alice_company) == before


def test_edit_changes_and_clears_details(client, alice, alice_company):
    client.force_login(alice)
    url = reverse("company-update", args=[alice_company.pk])
    form = client.get(url).text
    assert 'name="address"' in form and 'name="registration_number"' in form
    assert client.post(url, post(name="Alice Industries")).status_code == 302
    alice_company.refresh_from_db()
    assert alice_company.country.code == "DK"
    # The edit form shows what is stored.
    form = client.get(url).text
    assert 'value="DK12345678"' in form
    assert '<option value="DK" selected>' in form
    response = client.post(url, post(name="Alice Industries", phone="", country="SE"))
    assert response.status_code == 302
    alice_company.refresh_from_db()
    assert (alice_company.phone, alice_company.country.code) == ("", "SE")


def test_saving_the_same_details_again_writes_nothing(client, alice, alice_company):
    client.force_login(alice)
    url = reverse("company-update", args=[alice_company.pk])
    client.post(url, post(name="Alice Industries"))
    before = snapshot(alice_company)
    response = client.post(url, post(name="Alice Industries"), follow=True)
    assert "Nothing to save." in response.text
    assert snapshot(alice_company) == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_404_and_nothing_changes(client, carol, alice_company, method):
    before = snapshot(alice_company)
    client.force_login(carol)
    url = reverse("company-update", args=[alice_company.pk])
    assert getattr(client, method)(url, post()).status_code == 404
    assert snapshot(alice_company) == before


def test_read_only_user_gets_403_and_nothing_changes(client, alex, alice_company):
    before = snapshot(alice_company)
    client.force_login(alex)
    response = client.post(reverse("company-update", args=[alice_company.pk]), post())
    assert response.status_code == 403
    assert snapshot(alice_company) == before


@pytest.mark.parametrize(
    "text", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7*7 }}"]
)
def test_hostile_address_and_registration_number_are_escaped(client, alice, team_a, text):
    company = CompanyFactory(
        team=team_a, owner=alice, address=f"{text}\nline", registration_number=text[:40]
    )
    client.force_login(alice)
    page = client.get(company.get_absolute_url()).text
    if text != escape(text):
        assert text not in page
    assert escape(text) in page


def test_service_update_without_details_leaves_them_alone(alice, alice_company):
    services.company_update(
        acting_user=alice,
        company=alice_company,
        name="Renamed",
        domain=alice_company.domain,
        website="https://alice.dk",
        phone="+45 11 22 33 44",
        team=alice_company.team,
        owner=alice,
    )
    services.company_update(
        acting_user=alice,
        company=alice_company,
        name="Renamed again",
        domain=alice_company.domain,
        team=alice_company.team,
        owner=alice,
    )
    alice_company.refresh_from_db()
    assert (alice_company.name, alice_company.website, alice_company.phone) == (
        "Renamed again",
        "https://alice.dk",
        "+45 11 22 33 44",
    )
