"""The first run: on an install without teams or pipelines every main page answers 200 with
what to do next (an admin: create the first team, then its pipeline; anyone else: ask an
admin), never a 404 or an empty page, and the set-up pages lead from one step to the next."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from crm.models import Company, Contact
from tests.factories import MembershipFactory, PipelineFactory, TeamFactory, UserFactory

# Every main page a person reaches from the top bar (the board is the home page).
MAIN_PAGES = [
    "home",
    "forecast",
    "review",
    "analytics-funnel",
    "analytics-time-in-stage",
    "analytics-reps",
    "analytics-losses",
    "analytics-velocity",
    "cleanup",
    "my-next-steps",
    "company-list",
    "company-create",
    "contact-list",
    "contact-create",
]
# Pages whose records come from a pipeline; the others need only a team.
PIPELINE_PAGES = [
    "home",
    "forecast",
    "analytics-funnel",
    "analytics-time-in-stage",
    "analytics-reps",
    "analytics-losses",
    "analytics-velocity",
    "cleanup",
]
SETTINGS_PAGES = [
    "settings-pipelines",
    "settings-teams",
    "settings-users",
    "settings-organisation",
    "settings-tiers",
    "settings-lost-reasons",
    "settings-product-areas",
]


@pytest.fixture
def root(db):
    """The admin `createsuperuser` makes on a fresh install: in no team."""
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def newcomer(db):
    """A salesperson nobody has put in a team yet."""
    return UserFactory(username="newcomer")


@pytest.mark.parametrize("name", MAIN_PAGES)
def test_an_admin_on_an_empty_install_is_shown_the_first_step_on_every_page(client, root, name):
    client.force_login(root)

    response = client.get(reverse(name))

    assert response.status_code == 200
    html = response.text
    assert "Set up your CRM" in html
    assert f'<a class="btn btn-primary" href="{reverse("settings-teams")}">' in html
    assert "Create the first team" in html
    # The pipeline and the people come after: no buttons for them before a team exists.
    assert f'href="{reverse("settings-pipelines")}"' not in html
    assert f"{reverse('settings-users')}#invite" not in html


@pytest.mark.parametrize("name", MAIN_PAGES)
def test_a_salesperson_in_no_team_is_told_to_ask_an_admin_on_every_page(client, newcomer, name):
    client.force_login(newcomer)

    response = client.get(reverse(name))

    assert response.status_code == 200
    html = response.text
    assert "You are not in a team yet" in html
    assert "Ask an admin to add you to one" in html
    assert reverse("settings-teams") not in html  # no links into settings they cannot open


@pytest.mark.parametrize("name", PIPELINE_PAGES)
def test_with_a_team_but_no_pipeline_the_admin_is_shown_the_second_step(client, root, name):
    TeamFactory(name="Sales North")
    client.force_login(root)

    html = client.get(reverse(name)).text

    assert "Set up your CRM" in html
    assert "Create the first team" not in html
    assert f'<a class="btn btn-primary" href="{reverse("settings-pipelines")}">' in html
    assert f'href="{reverse("settings-users")}#invite"' in html


@pytest.mark.parametrize("name", PIPELINE_PAGES)
def test_a_salesperson_whose_team_has_no_pipeline_is_told_so(client, alice, name):
    client.force_login(alice)

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert "Your team has no pipeline yet" in response.text


def test_the_review_of_a_team_without_a_pipeline_opens_with_empty_sections(client, bob):
    client.force_login(bob)

    response = client.get(reverse("review"))

    assert response.status_code == 200
    assert "Your team has no pipeline yet" not in response.text
    assert "Nothing is expected to close in the next two weeks." in response.text


def test_once_set_up_the_pages_are_themselves(client, root, alice, stages_a):
    client.force_login(root)
    for name in MAIN_PAGES[1:]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "Set up your CRM" not in response.text, name
    assert client.get(reverse("home")).status_code == 302  # to the board


def test_an_htmx_request_gets_the_card_without_the_page_around_it(client, newcomer):
    client.force_login(newcomer)

    response = client.get(reverse("analytics-funnel"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "You are not in a team yet" in response.text
    assert "<html" not in response.text


def test_signed_out_visitors_are_still_sent_to_sign_in(client, db):
    for name in MAIN_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_posting_a_company_or_contact_without_a_team_creates_nothing(client, newcomer):
    client.force_login(newcomer)

    company = client.post(reverse("company-create"), {"name": "Acme"})
    contact = client.post(reverse("contact-create"), {"first_name": "Ann", "last_name": "Lee"})

    assert company.status_code == contact.status_code == 200
    assert "You are not in a team yet" in company.text
    assert not Company.objects.exists() and not Contact.objects.exists()


@pytest.mark.parametrize("name", SETTINGS_PAGES)
def test_settings_pages_stay_open_for_the_admin_on_an_empty_install(client, root, name):
    client.force_login(root)

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert "Set up your CRM" not in response.text


def test_the_pipeline_form_waits_for_a_team(client, root):
    client.force_login(root)

    html = client.get(reverse("settings-pipelines")).text

    assert "First, a team" in html
    assert f'href="{reverse("settings-teams")}"' in html
    assert 'name="team"' not in html  # no form with an empty team list


def test_a_new_team_leads_on_to_its_pipeline_and_then_the_board(client, root):
    client.force_login(root)

    created = client.post(reverse("settings-teams"), {"name": "Sales North"})
    team_page = client.get(created["Location"]).text
    assert "Next: a pipeline for this team" in team_page
    assert f'href="{reverse("settings-pipelines")}"' in team_page

    form = client.get(reverse("settings-pipelines")).text
    assert 'name="team"' in form and "Sales North" in form
    team_id = TeamFactory._meta.model.objects.get(name="Sales North").pk
    client.post(
        reverse("settings-pipelines"),
        {"name": "New business", "team": team_id, "standard_stages": "on"},
    )

    assert client.get(reverse("home")).status_code == 302
    forecast = client.get(reverse("forecast")).text
    assert "Set up your CRM" not in forecast


def test_an_admin_by_role_in_a_team_without_a_pipeline_sees_step_two(client, db):
    team = TeamFactory(name="Sales North")
    ada = UserFactory(username="ada")
    MembershipFactory(user=ada, team=team, role=Role.ADMIN)
    other = TeamFactory(name="Sales South")
    client.force_login(ada)
    assert "Create a pipeline" in client.get(reverse("forecast")).text

    PipelineFactory(team=other)  # another team's pipeline: the admin sees every team

    assert "Set up your CRM" not in client.get(reverse("forecast")).text
