"""Who sees which language: the user's own choice, then the switcher's cookie, then the
browser's Accept-Language, then the organisation's default; the same URL in every language,
and answers that say what they depend on. The switcher and the profile's choice."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from crm.languages import language_for_user, language_from_accept_header
from crm.models import Organisation
from crm.organisation import organisation_changed
from tests.catalogue import catalogue

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def organisation_language(code: str) -> None:
    Organisation.objects.filter(pk=1).update(language=code)
    organisation_changed()


def language_of(response) -> str:
    return response.headers["Content-Language"]


def test_the_browsers_language_decides_before_signing_in(client):
    response = client.get(LOGIN, headers={"accept-language": "da-DK,da;q=0.9,en;q=0.5"})
    assert language_of(response) == "da"
    assert '<html lang="da">' in response.content.decode()
    vary = {part.strip() for part in response.headers["Vary"].split(",")}
    assert {"Accept-Language", "Cookie"} <= vary


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("sv-SE", "sv"),
        ("fr-FR, nb;q=0.8", "nb"),
        ("no", "nb"),  # Norwegian in general: bokmål
        ("de-AT", "de"),
        ("en-US", "en-gb"),
        ("fr, *;q=0.1", None),
        ("", None),
    ],
)
def test_accept_language_is_read_in_order_of_preference(header, expected):
    assert language_from_accept_header(header) == expected


def test_the_organisations_default_when_the_browser_asks_for_nothing_we_speak(client):
    organisation_language("sv")
    assert language_of(client.get(LOGIN, headers={"accept-language": "fr-FR"})) == "sv"
    assert language_of(client.get(LOGIN)) == "sv"


def test_the_users_choice_beats_the_browser_and_the_organisation(client, alice):
    organisation_language("sv")
    alice.language = "de"
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.get(reverse("profile"), headers={"accept-language": "da"})
    assert language_of(response) == "de"


def test_a_user_without_a_choice_gets_the_browsers_language(client, alice):
    organisation_language("sv")
    client.force_login(alice)
    assert language_of(client.get(reverse("profile"), headers={"accept-language": "da"})) == "da"
    assert language_of(client.get(reverse("profile"))) == "sv"


def test_the_page_is_translated_in_the_chosen_language(client, tmp_path):
    with catalogue(tmp_path, {"da": {"Sign in": "Log ind"}}):
        page = client.get(LOGIN, headers={"accept-language": "da"}).content.decode()
    assert "Log ind" in page


# --- the switcher ----------------------------------------------------------------------------


def test_anonymous_switch_sets_the_cookie_and_goes_back(client):
    response = client.post(reverse("language-set"), {"language": "nb", "next": LOGIN})
    assert response.status_code == 302 and response["Location"] == LOGIN
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "nb" and cookie["httponly"] and cookie["samesite"] == "Lax"
    # The cookie beats the browser's language from now on.
    assert language_of(client.get(LOGIN, headers={"accept-language": "de"})) == "nb"


def test_signed_in_switch_saves_the_choice_on_the_user(client, alice):
    client.force_login(alice)
    response = client.post(reverse("language-set"), {"language": "sv", "next": "/companies/"})
    assert response.status_code == 302 and response["Location"] == "/companies/"
    alice.refresh_from_db()
    assert alice.language == "sv"
    # It follows the user to another browser (no cookie there).
    other = type(client)()
    other.force_login(alice)
    assert language_of(other.get(reverse("profile"), headers={"accept-language": "da"})) == "sv"


def test_blank_choice_on_the_profile_goes_back_to_the_browsers_language(client, alice):
    alice.language = "de"
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.post(reverse("language-set"), {"language": "", "next": reverse("profile")})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.language == ""
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""  # deleted
    assert language_of(client.get(reverse("profile"), headers={"accept-language": "da"})) == "da"


@pytest.mark.parametrize("language", ["fr", "xx-evil", "da" * 20])
def test_a_language_not_offered_is_refused_and_changes_nothing(client, alice, language):
    alice.language = "de"
    alice.save(update_fields=["language"])
    client.force_login(alice)
    response = client.post(reverse("language-set"), {"language": language, "next": "/"})
    assert response.status_code == 400
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    alice.refresh_from_db()
    assert alice.language == "de"


@pytest.mark.parametrize(
    "unsafe", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "\\\\evil"]
)
def test_the_switcher_only_redirects_within_the_site(client, unsafe):
    response = client.post(reverse("language-set"), {"language": "da", "next": unsafe})
    assert response.status_code == 302 and response["Location"] == "/"


def test_without_next_the_switcher_goes_back_to_the_referring_page_of_this_site(client):
    response = client.post(
        reverse("language-set"), {"language": "da"}, headers={"referer": "http://testserver/x/"}
    )
    assert response["Location"] == "http://testserver/x/"
    response = client.post(
        reverse("language-set"), {"language": "da"}, headers={"referer": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_the_switcher_answers_post_only_and_needs_the_csrf_token(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(reverse("language-set")).status_code == 405
    response = client.post(reverse("language-set"), {"language": "da"})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.language == ""


def test_the_user_menu_and_the_sign_in_page_carry_the_switcher(client, alice):
    page = client.get(LOGIN).content.decode()
    assert f'action="{reverse("language-set")}"' in page and 'value="da"' in page
    client.force_login(alice)
    page = client.get(reverse("profile")).content.decode()
    assert page.count(f'action="{reverse("language-set")}"') == 2  # the menu and the profile
    assert 'lang="sv"' in page and "Svenska" in page


def test_mail_goes_to_the_recipient_in_their_language_else_the_organisations(alice):
    organisation_language("nb")
    assert language_for_user(alice) == "nb"
    alice.language = "de"
    assert language_for_user(alice) == "de"
    alice.language = "tlh"  # a row edited by hand: the organisation's
    assert language_for_user(alice) == "nb"


def test_a_language_field_on_the_user_is_one_of_the_offered_languages():
    field = User._meta.get_field("language")
    assert field.blank and field.default == ""
    assert [code for code, _ in field.choices] == [code for code, _ in settings.LANGUAGES]
