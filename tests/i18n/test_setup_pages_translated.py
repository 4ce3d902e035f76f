"""No English on the first-run set-up of an empty install, in Danish, Norwegian, Swedish and
German: each step's page as the browser's language asks (Accept-Language), the refusal of a
wrong token, and a step refused for bad input (tests/i18n/english.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from crm.devtools.messages import LANGUAGES
from crm.services import setup as services
from tests.crm.views.test_setup import ADMIN, ORGANISATION, TEAM
from tests.i18n.english import EnglishFinder, visible_texts

pytestmark = pytest.mark.usefixtures("empty_install")


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_on_the_set_up_pages(language, settings_mail):
    finder = EnglishFinder.from_catalogues(
        language,
        settings.BASE_DIR / "locale",
        {ORGANISATION["name"], TEAM["team_name"], TEAM["pipeline_name"], "Ingrid Holm"},
    )
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    token = services.setup_token_ensure()
    english: list[tuple[str, str, str]] = []

    def check(response, where: str) -> None:
        assert response.status_code < 500, where
        assert response.get("Content-Language") == language, where
        english.extend(
            (where, msgid, text)
            for msgid, text in finder.english_in(visible_texts(response.content.decode()))
        )

    check(client.get(reverse("setup")), "token page")
    check(client.get(reverse("setup"), {"token": "0" * 40}), "wrong token")
    assert client.get(reverse("setup"), {"token": token}).status_code == 302
    check(client.get(reverse("setup-organisation")), "organisation")
    check(client.post(reverse("setup-organisation"), {"name": ""}), "organisation refused")
    organisation = {**ORGANISATION, "language": language}
    assert client.post(reverse("setup-organisation"), organisation).status_code == 302
    check(client.get(reverse("setup-admin")), "admin")
    assert client.post(reverse("setup-admin"), ADMIN).status_code == 302
    check(client.post(reverse("setup-invite"), {"action": "explode"}), "invite refused")
    steps = [("setup-team", TEAM), ("setup-invite", {"action": "next"}), ("setup-import", None)]
    for step, data in steps:
        response = client.get(reverse(step))
        check(response, step)
        if data is not None:
            assert client.post(reverse(step), data).status_code == 302, step
    check(client.get(reverse("setup-finish")), "finish")
    report = "\n".join(f"{where}: {msgid!r} in {text!r}" for where, msgid, text in english)
    assert not english, f"English on the {language} set-up pages:\n{report}"


@pytest.fixture
def settings_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://crm.fjord.example"
