"""The deal forms' company and contact pickers: never a select of every company, the
submitted ids checked through the visibility rule (another team's id is a form error, 400,
and nothing changes), typed names resolved without JavaScript, and the form pages' queries
and HTML the same for 3 and 300 companies.

alice: salesperson, team A · bob: manager, team A · carol: salesperson, team B.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Contact
from pipeline.models import Activity, Deal
from tests.factories import CompanyFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def acme(team_a, alice):
    return CompanyFactory(team=team_a, owner=alice, name="Acme Nordic")


@pytest.fixture
def dorthe(acme):
    return ContactFactory(company=acme, name="Dorthe Dahl")


@pytest.fixture
def secret(team_b):
    return CompanyFactory(team=team_b, name="Secret AB")


@pytest.fixture
def sven(secret):
    return ContactFactory(company=secret, name="Sven Secret")


@pytest.fixture
def deal(stages_a, alice, acme, dorthe):
    return DealFactory(
        stage=stages_a[0], owner=alice, title="Forklifts", company=acme, contact=dorthe
    )


def step() -> dict:
    tomorrow = timezone.localdate() + timedelta(days=1)
    return {"step-subject": "Call", "step-due_date": tomorrow, "step-kind": "call"}


def quick(client, stage, **data):
    url = reverse("deal-quick-create", args=[stage.pipeline_id, stage.pk])
    base = {"title": "Pallets", "value": "100", "currency": "EUR", **step()}
    return client.post(url, {**base, **data}, **HTMX)


def full(client, stage, **data):
    url = reverse("deal-create", args=[stage.pipeline_id])
    base = {"title": "Pallets", "stage": stage.pk, "value": "100", "currency": "EUR", **step()}
    return client.post(url, {**base, **data})


def edit(client, deal, **data):
    base = {"title": deal.title, "value": deal.value, "currency": deal.currency}
    base |= {"version": deal.version, "company": deal.company_id or "", "contact": ""}
    if deal.contact_id:
        base["contact"] = deal.contact_id
    return client.post(reverse("deal-update", args=[deal.pk]), {**base, **data})


def snapshot(deal):
    row = Deal.objects.get(pk=deal.pk)
    return (row.title, row.company_id, row.contact_id, row.version)


def nothing_created():
    return not Deal.objects.exists() and not Activity.objects.exists()


# --- the quick add ----------------------------------------------------------------------------


def test_quick_add_with_a_picked_company(client, alice, stages_a, acme):
    client.force_login(alice)
    response = quick(client, stages_a[0], company=acme.pk, company_text="Acme Nordic")
    assert response.status_code == 200
    assert Deal.objects.get().company == acme


def test_quick_add_with_another_teams_company_is_400_and_creates_nothing(
    client, alice, stages_a, secret
):
    client.force_login(alice)
    for data in ({"company": secret.pk}, {"company": secret.pk, "company_text": "Secret AB"}):
        response = quick(client, stages_a[0], **data)
        assert response.status_code == 400
        assert "That company could not be found" in response.content.decode()
        assert nothing_created()


def test_quick_add_resolves_a_typed_name_without_javascript(client, alice, stages_a, acme):
    client.force_login(alice)
    response = quick(client, stages_a[0], company="", company_text="acme nordic")
    assert response.status_code == 200
    assert Deal.objects.get().company == acme


def test_quick_add_with_an_unknown_name_says_so_and_creates_nothing(client, alice, stages_a):
    client.force_login(alice)
    response = quick(client, stages_a[0], company="", company_text="Nobody Inc")
    assert response.status_code == 400 and nothing_created()
    html = response.content.decode()
    assert "No company is called “Nobody Inc”" in html
    assert 'name="company_text" value="Nobody Inc"' in html  # what was typed stays


def test_quick_form_has_a_picker_scoped_to_the_pipelines_team(client, alice, stages_a, acme):
    client.force_login(alice)
    url = reverse("deal-quick-create", args=[stages_a[0].pipeline_id, stages_a[0].pk])
    html = client.get(url, **HTMX).content.decode()
    assert '<input type="hidden" name="company" value=""' in html
    assert '<select id="quick-company' not in html
    assert f'id="quick-company-{stages_a[0].pk}"' in html
    assert f'hx-get="{reverse("company-search")}?team={stages_a[0].pipeline.team_id}"' in html
    assert "Acme Nordic" not in html


# --- the full create form -------------------------------------------------------------------


def test_create_with_company_and_contact(client, alice, stages_a, acme, dorthe):
    client.force_login(alice)
    response = full(client, stages_a[0], company=acme.pk, contact=dorthe.pk)
    assert response.status_code == 302
    deal = Deal.objects.get()
    assert (deal.company, deal.contact) == (acme, dorthe)


def test_create_with_another_teams_contact_is_400_and_creates_nothing(
    client, alice, stages_a, acme, sven
):
    client.force_login(alice)
    response = full(client, stages_a[0], company=acme.pk, contact=sven.pk)
    assert response.status_code == 400 and nothing_created()
    assert "That contact could not be found" in response.content.decode()


def test_create_with_a_contact_of_another_company_is_400(client, alice, stages_a, acme, team_a):
    elsewhere = ContactFactory(company=CompanyFactory(team=team_a), name="Elsewhere")
    client.force_login(alice)
    response = full(client, stages_a[0], company=acme.pk, contact=elsewhere.pk)
    assert response.status_code == 400 and nothing_created()


def test_typed_contact_name_is_looked_up_at_the_chosen_company(
    client, alice, stages_a, acme, dorthe, team_a
):
    ContactFactory(company=CompanyFactory(team=team_a), name="Dorthe Dahl")  # a namesake
    client.force_login(alice)
    data = {"company": acme.pk, "contact": "", "contact_text": "Dorthe Dahl"}
    assert full(client, stages_a[0], **data).status_code == 302
    assert Deal.objects.get().contact == dorthe


def test_a_company_of_the_team_outside_the_pipeline_is_refused(client, admin, stages_a, secret):
    """An admin sees every company, but a deal's company belongs to its pipeline's team."""
    client.force_login(admin)
    response = full(client, stages_a[0], company=secret.pk)
    assert response.status_code == 400 and nothing_created()


# --- editing --------------------------------------------------------------------------------


def test_edit_page_shows_the_chosen_company_and_contact(client, alice, deal, acme, dorthe):
    client.force_login(alice)
    html = client.get(deal.get_absolute_url()).content.decode()
    assert f'<input type="hidden" name="company" value="{acme.pk}"' in html
    assert 'name="company_text" value="Acme Nordic"' in html
    assert f'<input type="hidden" name="contact" value="{dorthe.pk}"' in html
    assert f'data-picker-group="{acme.pk}"' in html
    assert 'data-picker-parent="company"' in html


def test_edit_to_another_teams_company_is_400_and_changes_nothing(client, alice, deal, secret):
    before = snapshot(deal)
    client.force_login(alice)
    response = edit(client, deal, company=secret.pk, contact="")
    assert response.status_code == 400
    assert "That company could not be found" in response.content.decode()
    assert snapshot(deal) == before


def test_edit_to_another_teams_contact_is_400_and_changes_nothing(client, alice, deal, sven):
    before = snapshot(deal)
    client.force_login(alice)
    assert edit(client, deal, contact=sven.pk).status_code == 400
    assert snapshot(deal) == before


def test_edit_by_typing_a_company_name_without_javascript(client, alice, deal, team_a):
    baltic = CompanyFactory(team=team_a, name="Baltic Freight")
    client.force_login(alice)
    # The hidden id still holds the old company; the text is the new name.
    response = edit(client, deal, company_text="Baltic Freight", contact="", contact_text="")
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.company, deal.contact) == (baltic, None)


def test_emptying_the_fields_removes_company_and_contact(client, alice, deal):
    client.force_login(alice)
    assert edit(client, deal, company_text="", contact_text="").status_code == 302
    deal.refresh_from_db()
    assert (deal.company, deal.contact) == (None, None)


def test_own_deals_only_keeps_a_deals_company_the_salesperson_cannot_pick(
    client, alice, bob, team_a, stages_a
):
    """In an "own deals only" team alice does not see bob's companies, but her deal with one
    of them keeps it when she saves, and its name is shown."""
    team_a.own_deals_only = True
    team_a.save()
    bobs = CompanyFactory(team=team_a, owner=bob, name="Bobs Client")
    deal = DealFactory(stage=stages_a[0], owner=alice, company=bobs, title="Shared")
    client.force_login(alice)
    html = client.get(deal.get_absolute_url()).content.decode()
    assert 'name="company_text" value="Bobs Client"' in html
    response = edit(client, deal, company_text="Bobs Client", title="Shared 2")
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.company) == ("Shared 2", bobs)
    # ...but she cannot pick another of bob's companies.
    other = CompanyFactory(team=team_a, owner=bob, name="Bobs Other")
    before = snapshot(deal)
    assert edit(client, deal, company=other.pk, company_text="Bobs Other").status_code == 400
    assert snapshot(deal) == before


# --- the contact form ---------------------------------------------------------------------


def contact_post(client, **data):
    base = {"name": "Ida Iversen", "email": "", "phone": "", "title": ""}
    return client.post(reverse("contact-create"), {**base, **data})


def test_contact_form_refuses_another_teams_company(client, alice, secret):
    client.force_login(alice)
    response = contact_post(client, company=secret.pk, company_text="Secret AB")
    assert response.status_code == 400
    assert "That company could not be found" in response.content.decode()
    assert not Contact.objects.exists()


def test_contact_form_refuses_a_company_the_user_may_only_see(client, alex, acme):
    client.force_login(alex)
    assert contact_post(client, company=acme.pk, company_text="Acme Nordic").status_code == 400
    assert not Contact.objects.exists()


def test_contact_form_takes_a_typed_company_name(client, alice, acme):
    client.force_login(alice)
    response = contact_post(client, company="", company_text="Acme Nordic")
    assert response.status_code == 302
    assert Contact.objects.get().company == acme


def test_contact_form_asks_for_a_company(client, alice, acme):
    client.force_login(alice)
    response = contact_post(client, company="", company_text="")
    assert response.status_code == 400 and not Contact.objects.exists()


def test_contact_edit_shows_its_company(client, alice, dorthe, acme):
    client.force_login(alice)
    html = client.get(reverse("contact-update", args=[dorthe.pk])).content.decode()
    assert 'name="company_text" value="Acme Nordic"' in html
    assert f'hx-get="{reverse("company-search")}?editable=1"' in html


# --- no page lists every company ------------------------------------------------------------


def form_pages(client, stages_a, deal):
    stage = stages_a[0]
    quick_url = reverse("deal-quick-create", args=[stage.pipeline_id, stage.pk])
    return {
        "quick add": lambda: client.get(quick_url, **HTMX),
        "new deal": lambda: client.get(reverse("deal-create", args=[stage.pipeline_id])),
        "deal page": lambda: client.get(deal.get_absolute_url()),
        "new contact": lambda: client.get(reverse("contact-create")),
        "contact edit": lambda: client.get(reverse("contact-update", args=[deal.contact_id])),
    }


def query_counts(client, stages_a, deal) -> dict[str, int]:
    counts = {}
    for name, get in form_pages(client, stages_a, deal).items():
        with CaptureQueriesContext(connection) as captured:
            response = get()
        assert response.status_code == 200, name
        counts[name] = len(captured)
    return counts


def test_form_pages_do_not_load_every_company(client, alice, team_a, stages_a, deal):
    client.force_login(alice)
    few = query_counts(client, stages_a, deal)
    CompanyFactory.create_batch(300, team=team_a, owner=alice, name="Imported Company")
    many = query_counts(client, stages_a, deal)
    assert many == few  # the same queries for 3 and 300 companies
    for name, get in form_pages(client, stages_a, deal).items():
        html = get().content.decode()
        assert "Imported Company" not in html, name
        assert html.count("<option") < 40, name  # stages, currencies, kinds: never companies
