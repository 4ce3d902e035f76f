"""The public door of a lead form, /forms/<key>/: the page, a submission as an HTML form and as
JSON, CORS, spam (honeypot, fast fill), rate limits, size limits, validation in the form's
language, hostile text, and what the answers never say."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Company, Contact, Note
from pipeline.models import Activity, Deal, LeadForm, Notification, StageChange
from tests.pipeline.lead_forms.conftest import answers, token_for

pytestmark = pytest.mark.django_db

SITE = "https://www.example.com"


def url(lead_form: LeadForm) -> str:
    return reverse("lead-form-public", args=[lead_form.key])


def stored():
    """Everything a submission could write."""
    return (
        Deal.objects.count(),
        Company.objects.count(),
        Contact.objects.count(),
        Activity.objects.count(),
        Note.objects.count(),
        Notification.objects.count(),
        StageChange.objects.count(),
        list(LeadForm.objects.values_list("submission_count", "round_robin_last")),
    )


def post_json(client, lead_form, data, **headers):
    return client.post(url(lead_form), json.dumps(data), content_type="application/json", **headers)


# --- the page -------------------------------------------------------------------------------


def test_the_page_shows_the_fields_with_a_fresh_token_and_no_cookie(client, lead_form):
    response = client.get(url(lead_form))
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("name", "email", "phone", "company", "message", "fax", "_ts"):
        assert f'name="{name}"' in body
    assert 'maxlength="254"' in body  # e-mail
    assert not response.cookies  # no session, no CSRF cookie for visitors
    assert response["Cache-Control"] == "no-store"


def test_only_the_form_page_may_be_framed_and_only_by_the_listed_sites(client, lead_form):
    page = client.get(url(lead_form) + "?embed=1")
    csp = page["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {SITE}" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "X-Frame-Options" not in page
    other = client.get(reverse("login"))
    assert "frame-ancestors 'none'" in other["Content-Security-Policy"]
    assert other["X-Frame-Options"] == "DENY"


def test_a_form_without_listed_sites_cannot_be_framed(client, lead_form):
    LeadForm.objects.filter(pk=lead_form.pk).update(allowed_origins="")
    page = client.get(url(lead_form))
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"


def test_unknown_and_turned_off_forms_are_not_found(client, lead_form):
    assert client.get(reverse("lead-form-public", args=["nope"])).status_code == 404
    LeadForm.objects.filter(pk=lead_form.pk).update(is_active=False)
    before = stored()
    assert client.get(url(lead_form)).status_code == 404
    assert client.post(url(lead_form), answers(lead_form)).status_code == 404
    assert stored() == before


def test_the_page_speaks_the_forms_language(client, lead_form):
    LeadForm.objects.filter(pk=lead_form.pk).update(language="de")
    response = client.get(url(lead_form))
    assert '<html lang="de">' in response.content.decode()


# --- a submission ---------------------------------------------------------------------------


def test_a_plain_form_post_creates_the_deal_and_thanks_the_visitor(client, lead_form):
    response = client.post(url(lead_form), answers(lead_form))
    assert response.status_code == 200
    assert "We will be in touch soon." in response.content.decode()
    deal = Deal.objects.get()
    assert deal.source == "Website form: Contact us" and deal.next_step_id is not None


def test_a_redirect_address_sends_the_visitor_on(client, lead_form):
    LeadForm.objects.filter(pk=lead_form.pk).update(redirect_url="https://www.example.com/thanks")
    response = client.post(url(lead_form), answers(lead_form))
    assert response.status_code == 303
    assert response["Location"] == "https://www.example.com/thanks"


def test_json_from_a_listed_site_gets_cors_and_a_json_answer(client, lead_form):
    response = post_json(client, lead_form, answers(lead_form), HTTP_ORIGIN=SITE)
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Thank you! We will be in touch soon.",
        "redirect": "",
    }
    assert response["Access-Control-Allow-Origin"] == SITE
    assert Deal.objects.count() == 1


def test_the_preflight_allows_listed_sites_only(client, lead_form):
    ok = client.options(url(lead_form), HTTP_ORIGIN=SITE, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == SITE
    assert ok["Access-Control-Allow-Headers"] == "Content-Type"
    other = client.options(url(lead_form), HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other


def test_a_post_from_a_site_not_listed_is_refused_and_stores_nothing(client, lead_form):
    before = stored()
    for post in (
        lambda: client.post(url(lead_form), answers(lead_form), HTTP_ORIGIN="https://evil.example"),
        lambda: post_json(client, lead_form, answers(lead_form), HTTP_ORIGIN="null"),
    ):
        response = post()
        assert response.status_code == 403
        assert "Access-Control-Allow-Origin" not in response
    assert stored() == before


def test_our_own_page_posts_from_our_own_origin(client, lead_form):
    response = client.post(url(lead_form), answers(lead_form), HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200 and Deal.objects.count() == 1


def test_the_token_endpoint_and_the_snippet_script(client, lead_form):
    token = client.get(reverse("lead-form-token", args=[lead_form.key]), HTTP_ORIGIN=SITE)
    assert token["Access-Control-Allow-Origin"] == SITE
    assert set(token.json()) == {"_ts"}
    script = client.get(reverse("lead-form-start", args=[lead_form.key]))
    assert script["Content-Type"].startswith("text/javascript")
    assert script["Cache-Control"] == "no-store"
    assert f'form[data-lead-form=\\"{lead_form.key}\\"]' in script.content.decode()


# --- spam -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spam",
    [
        {"fax": "+1 555 0100"},  # the honeypot
        {"_ts": None},  # no start token
        {"_ts": "forged:token"},
        {"_ts": "TOKEN_NOW"},  # sent a moment after the page loaded
    ],
    ids=["honeypot", "no-token", "forged-token", "too-fast"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_spam_is_answered_like_a_success_stored_nowhere_and_counted(
    client, lead_form, spam, as_json
):
    data = answers(lead_form, **spam)
    if data.get("_ts") == "TOKEN_NOW":
        data["_ts"] = token_for(lead_form, seconds_ago=0)
    genuine = Client().post(url(lead_form), answers(lead_form))  # the same answer for real
    Deal.objects.all().delete()
    before = stored()
    if as_json:
        response = post_json(client, lead_form, data)
        assert response.status_code == 200
        assert response.json()["ok"] is True
    else:
        response = client.post(url(lead_form), data)
        assert response.status_code == genuine.status_code == 200
        assert "We will be in touch soon." in response.content.decode()
    assert stored()[:7] == before[:7]
    assert LeadForm.objects.get(pk=lead_form.pk).spam_count == 1


def test_a_page_left_open_too_long_asks_to_send_again(client, lead_form, settings):
    data = answers(lead_form, _ts=token_for(lead_form, seconds_ago=25 * 3600))
    before = stored()
    response = client.post(url(lead_form), data)
    assert response.status_code == 400
    assert "open for a long time" in response.content.decode()
    assert 'value="Jane Doe"' in response.content.decode()  # nothing typed is lost
    assert stored() == before


# --- limits ---------------------------------------------------------------------------------


def test_the_rate_per_address_answers_429_with_retry_after(client, lead_form, settings):
    settings.LEAD_FORM_ADDRESS_RATE = "2/hour"
    for i in range(2):
        assert (
            client.post(url(lead_form), answers(lead_form, email=f"a{i}@x.example")).status_code
            == 200
        )
    before = stored()
    response = client.post(url(lead_form), answers(lead_form, email="a3@x.example"))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert stored() == before
    other_address = client.post(
        url(lead_form), answers(lead_form, email="b@y.example"), REMOTE_ADDR="10.1.2.3"
    )
    assert other_address.status_code == 200


def test_the_rate_per_form_answers_429_for_every_address(client, lead_form, settings):
    settings.LEAD_FORM_RATE = "2/min"
    for i in range(2):
        response = post_json(
            client,
            lead_form,
            answers(lead_form, email=f"a{i}@x.example"),
            REMOTE_ADDR=f"10.0.0.{i}",
        )
        assert response.status_code == 200
    before = stored()
    response = post_json(client, lead_form, answers(lead_form), REMOTE_ADDR="10.0.0.99")
    assert response.status_code == 429
    assert response.json()["ok"] is False
    assert int(response["Retry-After"]) <= 60
    assert stored() == before


def test_a_refused_address_is_not_counted_against_the_form(client, lead_form, settings):
    settings.LEAD_FORM_ADDRESS_RATE = "1/hour"
    settings.LEAD_FORM_RATE = "2/min"
    assert client.post(url(lead_form), answers(lead_form)).status_code == 200
    for _ in range(3):  # one address over its limit, again and again
        assert client.post(url(lead_form), answers(lead_form)).status_code == 429
    before = stored()
    other = client.post(
        url(lead_form), answers(lead_form, email="b@y.example"), REMOTE_ADDR="10.9.9.9"
    )
    assert other.status_code == 200 and stored() != before  # the form's second of two


def test_an_unknown_key_is_404_even_past_the_forms_rate(client, settings, db):
    settings.LEAD_FORM_RATE = "1/min"
    for i in range(3):
        response = client.post("/forms/no-such-form/", {"name": "x"}, REMOTE_ADDR=f"10.0.1.{i}")
        assert response.status_code == 404
    assert client.post("/forms/" + "x" * 300 + "/", {}, REMOTE_ADDR="10.0.2.1").status_code == 404


def test_an_oversized_body_is_refused_with_413_before_it_is_read(client, lead_form):
    before = stored()
    response = client.post(url(lead_form), answers(lead_form, message="x" * 20_000))
    assert response.status_code == 413
    big_json = post_json(client, lead_form, answers(lead_form, message="y" * 20_000))
    assert big_json.status_code == 413 and big_json.json()["ok"] is False
    assert stored() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-address", "Enter a valid email address."),
        ("email", None, "This field is required."),
        ("name", "   ", "This field is required."),
        ("name", "N" * 201, "Ensure this value has at most 200 characters (it has 201)."),
        ("phone", "call me maybe", "Enter a phone number: digits, spaces and + ( ) - . / only."),
        ("message", "m" * 3001, "Ensure this value has at most 3000 characters (it has 3001)."),
        ("company", "c" * 201, "Ensure this value has at most 200 characters (it has 201)."),
        ("name", "Jane\x00Doe", "Null characters are not allowed."),
    ],
)
def test_bad_input_is_400_with_the_message_and_stores_nothing(
    client, lead_form, field, value, message
):
    before = stored()
    response = post_json(client, lead_form, answers(lead_form, **{field: value}))
    assert response.status_code == 400
    assert response.json()["errors"][field] == [message]
    page = client.post(url(lead_form), answers(lead_form, **{field: value}))
    assert page.status_code == 400
    assert stored() == before


def test_messages_come_in_the_forms_language(client, lead_form):
    LeadForm.objects.filter(pk=lead_form.pk).update(language="de")
    lead_form.refresh_from_db()
    response = post_json(client, lead_form, answers(lead_form, email="kaputt"))
    assert response.status_code == 400
    assert response.json()["errors"]["email"] == ["Bitte gültige E-Mail-Adresse eingeben."]


@pytest.mark.parametrize(
    "body",
    ["[1, 2]", "not json", '{"name": ["a"]}', '{"name": {"x": 1}}', '{"name": true}'],
)
def test_a_body_that_is_not_a_json_object_of_texts_is_400(client, lead_form, body):
    before = stored()
    response = client.post(url(lead_form), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert stored() == before


def test_another_content_type_is_400(client, lead_form):
    response = client.post(url(lead_form), "name=x", content_type="text/plain")
    assert response.status_code == 400


def test_the_public_address_takes_nothing_but_get_post_and_options(client, lead_form):
    assert client.put(url(lead_form), "{}").status_code == 405
    assert client.delete(url(lead_form)).status_code == 405


# --- hostile text ---------------------------------------------------------------------------

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_script_in_every_field_is_stored_as_text_and_escaped_everywhere(client, lead_form, admin):
    LeadForm.objects.filter(pk=lead_form.pk).update(
        fields={
            key: {"required": False, "label": ""}
            for key in ("name", "email", "phone", "company", "job_title", "message")
        }
    )
    lead_form.refresh_from_db()
    data = answers(
        lead_form,
        name=SCRIPT,
        company=SCRIPT,
        job_title=SCRIPT,
        message=SCRIPT,
        email="x@script.example",
        phone=None,
    )
    assert client.post(url(lead_form), data).status_code == 200
    deal = Deal.objects.get()
    assert deal.title == SCRIPT[:200]
    assert Contact.objects.get().title == SCRIPT
    assert Note.objects.get().body == SCRIPT
    staff = Client()
    staff.force_login(admin)
    pages = [
        deal.get_absolute_url(),
        reverse("board", args=[deal.pipeline_id]),
        reverse("company-detail", args=[deal.company_id]),
        reverse("contact-detail", args=[deal.contact_id]),
        reverse("notification-list"),
        reverse("company-list"),
        reverse("lead-balance"),
    ]
    for page in pages:
        body = staff.get(page).content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body, page
    assert "&lt;script&gt;alert" in staff.get(deal.get_absolute_url()).content.decode()


def test_script_in_the_forms_own_texts_is_escaped_on_its_page(client, lead_form):
    LeadForm.objects.filter(pk=lead_form.pk).update(
        title=SCRIPT,
        intro=SCRIPT,
        thank_you_text=SCRIPT,
        submit_label=SCRIPT,
        fields={
            "name": {"required": True, "label": SCRIPT},
            "email": {"required": True, "label": ""},
        },
    )
    page = client.get(url(lead_form)).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    thanks = client.post(url(lead_form), answers(lead_form)).content.decode()
    assert "<script>alert" not in thanks


# --- what the answers never say -------------------------------------------------------------


def test_answers_name_no_record_and_set_no_cookie(client, lead_form):
    response = post_json(client, lead_form, answers(lead_form))
    deal = Deal.objects.get()
    text = response.content.decode()
    for pk in (deal.pk, deal.company_id, deal.contact_id, lead_form.pk):
        assert f'"{pk}"' not in text and f": {pk}" not in text
    assert set(response.json()) == {"ok", "message", "redirect"}
    assert not response.cookies
    page = client.post(url(lead_form), answers(lead_form, email="second@x.example"))
    for path in ("/deals/", "/companies/", "/contacts/", "/settings/"):
        assert path not in page.content.decode()  # no link into the CRM
    assert not page.cookies


def test_only_the_public_view_is_exempt_from_csrf():
    from django.urls import get_resolver

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern.callback

    exempt = {
        f"{view.__module__}.{view.__name__}"
        for view in walk(get_resolver().url_patterns)
        if getattr(view, "csrf_exempt", False)
        and view.__module__.split(".")[0] in ("pipeline", "crm", "accounts")
        and not view.__module__.startswith("crm.api")
    }
    assert exempt == {"pipeline.views.lead_forms_public.lead_form_public"}
