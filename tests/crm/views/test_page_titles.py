"""Every page's title is "<page> · <organisation name>", and follows a rename at once."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crm.models import Organisation
from crm.organisation import organisation_changed, organisation_get


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)[1]


@pytest.fixture
def renamed(db):
    Organisation.objects.filter(pk=organisation_get().pk).update(name="Fjord & Co")
    organisation_changed()


@pytest.mark.parametrize(
    ("name", "page"),
    [
        ("forecast", "Forecast"),
        ("company-list", "Companies"),
        ("contact-list", "Contacts"),
        ("my-next-steps", "My next steps"),
        ("analytics-funnel", "Funnel"),
        ("settings-organisation", "Organisation"),
    ],
)
def test_a_page_title_names_the_page_then_the_organisation(
    client, admin, stages_a, renamed, name, page
):
    client.force_login(admin)

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert title(response) == f"{page} · Fjord &amp; Co"


def test_the_board_is_titled_with_its_pipeline(client, alice, stages_a, renamed):
    client.force_login(alice)

    response = client.get(reverse("board", args=[stages_a[0].pipeline_id]))

    assert title(response) == "New business · Fjord &amp; Co"


def test_the_sign_in_page_names_the_organisation_too(client, renamed):
    assert title(client.get(reverse("login"))) == "Sign in · Fjord &amp; Co"


def test_error_pages_name_the_organisation_too(client, alice, renamed):
    client.force_login(alice)

    missing = client.get("/no-such-page/")
    bad_host = client.get(reverse("login"), HTTP_HOST="evil.example")

    assert missing.status_code == 404
    assert title(missing) == "Not found · Fjord &amp; Co"
    assert bad_host.status_code == 400
    assert title(bad_host) == "That did not work · Fjord &amp; Co"


def test_an_htmx_rename_retitles_the_tab(client, admin, django_capture_on_commit_callbacks):
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("settings-organisation"),
            {
                "name": "Fjord Systems",
                "reporting_currency": "EUR",
                "time_zone": "Europe/Oslo",
                "week_start": 0,
            },
            HTTP_HX_REQUEST="true",
        )

    assert response.status_code == 200
    assert "<title>Organisation · Fjord Systems</title>" in response.content.decode()
