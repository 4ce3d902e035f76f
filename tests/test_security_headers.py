from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CompanyFactory, ContactFactory, DealFactory

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# A script element that runs inline code. A JSON data block (the page's JavaScript catalogue,
# {% js_catalogue %}) is never executed, so the CSP's script-src does not apply to it.
INLINE_SCRIPT = r"<script(?![^>]*\b(?:src=|type=\"application/json\"))"
# An event-handler attribute (onclick=, onload= ...) inside a tag: CSP refuses to run it.
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)


def assert_security_headers(response, label):
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, label
    assert "unsafe-eval" not in csp, label
    assert "frame-ancestors 'none'" in csp, label
    assert "default-src 'self'" in csp and "base-uri 'self'" in csp, label
    assert response["X-Content-Type-Options"] == "nosniff", label
    assert response["X-Frame-Options"] == "DENY", label
    assert response["Referrer-Policy"] == "same-origin", label
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", label


def test_every_response_carries_the_security_headers(client, alice):
    for response in (client.get("/accounts/login/"), client.get("/no-such-page/")):
        assert_security_headers(response, response.request["PATH_INFO"])


@pytest.fixture
def pages(alice, admin, stages_a):
    """One URL per page type: full pages, htmx fragments, refusals, errors, static files."""
    deal = DealFactory(stage=stages_a[0], owner=alice)
    company = CompanyFactory(team=stages_a[0].pipeline.team)
    contact = ContactFactory(company=company)
    team_id = alice.memberships.get().team_id
    return {
        "alice": [
            ("board", reverse("board", args=[stages_a[0].pipeline_id]), {}),
            ("deal", reverse("deal-detail", args=[deal.pk]), {}),
            ("deal fragment", reverse("deal-detail", args=[deal.pk]), {"HTTP_HX_REQUEST": "true"}),
            ("closed deals", reverse("closed-deals", args=[stages_a[0].pipeline_id]), {}),
            ("company", reverse("company-detail", args=[company.pk]), {}),
            ("companies", reverse("company-list"), {}),
            ("contact", reverse("contact-detail", args=[contact.pk]), {}),
            ("contacts", reverse("contact-list"), {}),
            ("forecast", reverse("forecast"), {}),
            ("review", reverse("review"), {}),
            ("next steps", reverse("my-next-steps"), {}),
            ("notifications", reverse("notification-list"), {}),
            ("password", reverse("password_change"), {}),
            ("403", reverse("settings-users"), {}),
            ("403 fragment", reverse("settings-users"), {"HTTP_HX_REQUEST": "true"}),
            ("404", reverse("deal-detail", args=[999_999]), {}),
            ("400", reverse("company-list") + "?page=abc", {}),
            ("static", "/static/css/app.css", {}),
        ],
        "admin": [
            ("users", reverse("settings-users"), {}),
            ("user", reverse("settings-user-detail", args=[alice.pk]), {}),
            ("new user", reverse("settings-user-create"), {}),
            ("teams", reverse("settings-teams"), {}),
            ("team", reverse("settings-team-detail", args=[team_id]), {}),
        ],
    }


def test_every_page_type_carries_the_security_headers(pages, alice, admin):
    for persona, user in (("alice", alice), ("admin", admin)):
        client = Client()
        client.force_login(user)
        for label, url, headers in pages[persona]:
            response = client.get(url, **headers)
            assert response.status_code < 500, label
            assert_security_headers(response, label)
            if response.get("Content-Type", "").startswith("text/html"):
                body = response.content.decode()
                assert not re.search(INLINE_SCRIPT, body), label
                assert not HANDLER.search(body), label


def test_templates_have_no_inline_scripts_or_styles():
    """The policy forbids inline script and style; a template that used them would break."""
    for template in TEMPLATES.rglob("*.htm*"):
        if template.name == "500.html" or "email" in template.parts:
            continue  # the bare error page and e-mails carry their own inline styles
        text = template.read_text()
        assert not re.search(INLINE_SCRIPT, text), template
        assert " style=" not in text and "<style" not in text, template
    for template in TEMPLATES.rglob("*.jinja"):
        text = template.read_text()
        assert "<script" not in text and " style=" not in text, template


def test_templates_have_no_event_handler_attributes_or_javascript_urls():
    for template in [*TEMPLATES.rglob("*.htm*"), *TEMPLATES.rglob("*.jinja")]:
        text = template.read_text()
        assert not HANDLER.search(text), template
        assert "javascript:" not in text.lower(), template
        assert "hx-on" not in text, template  # htmx's inline handlers need unsafe-eval
