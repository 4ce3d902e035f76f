"""The lead forms' settings pages: admins only (403 for every other role, nothing changed),
unknown ids 404, creating and changing a form, and foreign ids refused."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import Role
from pipeline.models import LeadForm, OwnerRule, Pipeline
from tests.factories import MembershipFactory, PipelineFactory, UserFactory

pytestmark = pytest.mark.django_db


def snapshot():
    return list(
        LeadForm.objects.order_by("pk").values_list(
            "pk",
            "name",
            "pipeline_id",
            "is_active",
            "language",
            "fields",
            "owner_rule",
            "fixed_owner_id",
            "next_step_subject",
            "next_step_days",
            "allowed_origins",
            "redirect_url",
        )
    ), sorted(LeadForm.round_robin_users.through.objects.values_list("leadform_id", "user_id"))


def settings_body(lead_form: LeadForm, **overrides) -> dict:
    """The settings page's form as the admin would post it unchanged, with `overrides`."""
    body = {
        "name": lead_form.name,
        "pipeline": lead_form.pipeline_id,
        "is_active": "on" if lead_form.is_active else "",
        "language": lead_form.language,
        "title": lead_form.title,
        "intro": lead_form.intro,
        "submit_label": lead_form.submit_label,
        "thank_you_text": lead_form.thank_you_text,
        "redirect_url": lead_form.redirect_url,
        "owner_rule": lead_form.owner_rule,
        "fixed_owner": lead_form.fixed_owner_id or "",
        "round_robin_users": [u.pk for u in lead_form.round_robin_users.all()],
        "next_step_subject": lead_form.next_step_subject,
        "next_step_kind": lead_form.next_step_kind,
        "next_step_days": lead_form.next_step_days,
        "allowed_origins": lead_form.allowed_origins,
        "show_phone": "optional",
        "show_company": "optional",
        "show_job_title": "off",
        "show_website": "off",
        "show_budget": "off",
        "show_message": "optional",
    }
    body.update(overrides)
    return body


# (URL name, takes the form's id, methods, a valid POST body or None for settings_body)
URLS = [
    ("settings-lead-forms", False, ["get", "post"], {"name": "Quote request", "pipeline": "PIPE"}),
    ("settings-lead-form", True, ["get", "post"], None),
    ("settings-lead-form-active", True, ["post"], {"active": "0"}),
]
CASES = [(n, k, m, d) for n, k, ms, d in URLS for m in ms]
IDS = [f"{m}-{n}" for n, _k, m, _d in CASES]


def _request(client, lead_form, name, takes_id, method, data, *, missing=False, **headers):
    url = reverse(name, args=[999_999 if missing else lead_form.pk]) if takes_id else reverse(name)
    if data is None:
        data = settings_body(lead_form, name="Changed")
    data = {k: (lead_form.pipeline_id if v == "PIPE" else v) for k, v in data.items()}
    return getattr(client, method)(url, data, **headers)


@pytest.mark.parametrize(("name", "takes_id", "method", "data"), CASES, ids=IDS)
@pytest.mark.parametrize("persona", ["alice", "bob", "alex", "carol"])
def test_non_admins_get_403_and_nothing_changes(
    client, request, lead_form, persona, name, takes_id, method, data
):
    client.force_login(request.getfixturevalue(persona))
    before = snapshot()
    assert _request(client, lead_form, name, takes_id, method, data).status_code == 403
    assert (
        _request(
            client, lead_form, name, takes_id, method, data, HTTP_HX_REQUEST="true"
        ).status_code
        == 403
    )
    assert snapshot() == before


@pytest.mark.parametrize(("name", "takes_id", "method", "data"), CASES, ids=IDS)
def test_anonymous_is_sent_to_login(client, lead_form, name, takes_id, method, data):
    before = snapshot()
    response = _request(client, lead_form, name, takes_id, method, data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "takes_id", "method", "data"),
    [c for c in CASES if c[1]],
    ids=[i for c, i in zip(CASES, IDS, strict=True) if c[1]],
)
def test_unknown_ids_are_404_for_admins(client, admin, lead_form, name, takes_id, method, data):
    client.force_login(admin)
    before = snapshot()
    response = _request(client, lead_form, name, takes_id, method, data, missing=True)
    assert response.status_code == 404
    assert snapshot() == before


def test_the_list_shows_each_form_with_its_counts(client, admin, lead_form):
    LeadForm.objects.filter(pk=lead_form.pk).update(submission_count=7, spam_count=3)
    client.force_login(admin)
    body = client.get(reverse("settings-lead-forms")).content.decode()
    assert "Contact us" in body and ">7<" in body and ">3<" in body


def test_an_admin_creates_a_form_with_round_robin_over_the_teams_salespeople(
    client, admin, alice, alex, bob, stages_a
):
    client.force_login(admin)
    response = client.post(
        reverse("settings-lead-forms"),
        {"name": "Quote request", "pipeline": stages_a[0].pipeline_id},
    )
    lead_form = LeadForm.objects.get(name="Quote request")
    assert response.status_code == 302
    assert response["Location"] == reverse("settings-lead-form", args=[lead_form.pk])
    assert lead_form.owner_rule == OwnerRule.ROUND_ROBIN
    assert {u.pk for u in lead_form.round_robin_users.all()} == {alice.pk, alex.pk}
    assert lead_form.next_step_subject == "Call back within 1 working day"
    # A random key, not the row's id (a random key may contain the id's digits by chance:
    # "not in" made this test fail now and then).
    assert len(lead_form.key) >= 16 and not lead_form.key.isdigit()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", lead_form.key)


def test_the_form_page_shows_the_address_and_the_snippets(client, admin, lead_form, settings):
    client.force_login(admin)
    body = client.get(reverse("settings-lead-form", args=[lead_form.pk])).content.decode()
    public = f"{settings.SITE_URL}/forms/{lead_form.key}/"
    assert f'value="{public}"' in body
    assert f"&lt;form action=&quot;{public}&quot; method=&quot;post&quot;" in body
    assert f"&lt;iframe src=&quot;{public}?embed=1&quot;" in body
    assert f"/forms/{lead_form.key}/start.js" in body
    assert f"/forms/{lead_form.key}/token/" in body


def test_an_admin_changes_fields_texts_owner_and_websites(client, admin, lead_form, alex):
    client.force_login(admin)
    body = settings_body(
        lead_form,
        name="Contact sales",
        language="da",
        show_phone="required",
        show_budget="optional",
        label_message="Hvad kan vi hjælpe med?",
        owner_rule=OwnerRule.FIXED,
        fixed_owner=alex.pk,
        next_step_subject="Ring tilbage",
        next_step_days=2,
        allowed_origins="https://www.example.com/\nhttp://localhost:8080\nhttps://www.example.com",
        redirect_url="www.example.com/tak",
    )
    response = client.post(reverse("settings-lead-form", args=[lead_form.pk]), body)
    assert response.status_code == 302
    lead_form.refresh_from_db()
    assert lead_form.name == "Contact sales" and lead_form.language == "da"
    assert lead_form.fields["phone"] == {"required": True, "label": ""}
    assert lead_form.fields["budget"] == {"required": False, "label": ""}
    assert lead_form.fields["message"]["label"] == "Hvad kan vi hjælpe med?"
    assert "job_title" not in lead_form.fields
    assert (lead_form.owner_rule, lead_form.fixed_owner_id) == (OwnerRule.FIXED, alex.pk)
    assert list(lead_form.round_robin_users.all()) == []
    assert lead_form.allowed_origins == "https://www.example.com\nhttp://localhost:8080"
    assert lead_form.redirect_url == "https://www.example.com/tak"
    assert (lead_form.next_step_subject, lead_form.next_step_days) == ("Ring tilbage", 2)


def test_saving_unchanged_settings_writes_nothing(client, admin, lead_form):
    client.force_login(admin)
    LeadForm.objects.filter(pk=lead_form.pk).update(
        fields={
            "name": {"required": True, "label": ""},
            "email": {"required": True, "label": ""},
            "phone": {"required": False, "label": ""},
            "company": {"required": False, "label": ""},
            "message": {"required": False, "label": ""},
        }
    )
    lead_form.refresh_from_db()
    stamp = lead_form.updated_at
    response = client.post(
        reverse("settings-lead-form", args=[lead_form.pk]), settings_body(lead_form)
    )
    assert response.status_code == 302
    lead_form.refresh_from_db()
    assert lead_form.updated_at == stamp


@pytest.mark.parametrize(
    "overrides",
    [
        {"owner_rule": OwnerRule.FIXED, "fixed_owner": "CAROL"},  # another team's person
        {"round_robin_users": ["ALICE", "CAROL"]},
        {"pipeline": "ARCHIVED"},
        {"pipeline": 999_999},
        {"owner_rule": OwnerRule.FIXED, "fixed_owner": ""},
        {"round_robin_users": []},
        {"owner_rule": "everyone"},
        {"allowed_origins": "https://www.example.com/contact"},
        {"allowed_origins": "*"},
        {"allowed_origins": "javascript:alert(1)"},
        {"redirect_url": "javascript:alert(1)"},
        {"next_step_days": 61},
        {"next_step_subject": ""},
        {"name": "x" * 101},
        {"show_phone": "always"},
        {"label_name": "L" * 61},
        {"language": "fr"},
    ],
)
def test_bad_or_foreign_settings_are_400_and_change_nothing(
    client, admin, lead_form, alice, carol, team_a, overrides
):
    archived = PipelineFactory(team=team_a, name="Old", is_archived=True)
    names = {"CAROL": carol.pk, "ALICE": alice.pk, "ARCHIVED": archived.pk}
    resolved = {
        k: ([names.get(x, x) for x in v] if isinstance(v, list) else names.get(v, v))
        for k, v in overrides.items()
    }
    client.force_login(admin)
    before = snapshot()
    response = client.post(
        reverse("settings-lead-form", args=[lead_form.pk]), settings_body(lead_form, **resolved)
    )
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    assert snapshot() == before


def test_moving_a_form_to_another_teams_pipeline_needs_that_teams_people(
    client, admin, lead_form, carol, pipeline_b, stages_b
):
    client.force_login(admin)
    before = snapshot()
    response = client.post(
        reverse("settings-lead-form", args=[lead_form.pk]),
        settings_body(lead_form, pipeline=pipeline_b.pk),  # still alice and alex
    )
    assert response.status_code == 400
    assert snapshot() == before
    response = client.post(
        reverse("settings-lead-form", args=[lead_form.pk]),
        settings_body(lead_form, pipeline=pipeline_b.pk, round_robin_users=[carol.pk]),
    )
    assert response.status_code == 302
    lead_form.refresh_from_db()
    assert lead_form.pipeline_id == pipeline_b.pk
    assert [u.pk for u in lead_form.round_robin_users.all()] == [carol.pk]


def test_the_service_refuses_people_outside_the_team_too(admin, lead_form, carol):
    from pipeline import services
    from pipeline.services.lead_forms import LeadFormError

    values = services.LeadFormSettings(
        **{
            **{f: getattr(lead_form, f) for f in services.lead_forms.SETTING_FIELDS},
            "fixed_owner": None,
            "round_robin_users": (carol,),
        }
    )
    before = snapshot()
    with pytest.raises(LeadFormError):
        services.lead_form_update(acting_user=admin, lead_form=lead_form, values=values)
    assert snapshot() == before


def test_turning_a_form_off_and_on(client, admin, lead_form):
    client.force_login(admin)
    public = reverse("lead-form-public", args=[lead_form.key])
    response = client.post(
        reverse("settings-lead-form-active", args=[lead_form.pk]), {"active": "0"}
    )
    assert response.status_code == 302
    assert not LeadForm.objects.get(pk=lead_form.pk).is_active
    assert client.get(public).status_code == 404
    client.post(reverse("settings-lead-form-active", args=[lead_form.pk]), {"active": "1"})
    assert LeadForm.objects.get(pk=lead_form.pk).is_active
    assert client.get(public).status_code == 200
    before = snapshot()
    bad = client.post(
        reverse("settings-lead-form-active", args=[lead_form.pk]), {"active": "maybe"}
    )
    assert bad.status_code == 400
    assert snapshot() == before


def test_an_admin_of_another_team_configures_every_form(client, lead_form, team_b):
    both = UserFactory(username="both")
    MembershipFactory(user=both, team=team_b, role=Role.ADMIN)
    client.force_login(both)
    assert client.get(reverse("settings-lead-form", args=[lead_form.pk])).status_code == 200
    assert Pipeline.objects.exists()


def test_the_new_pages_carry_the_security_headers_and_no_inline_script(
    client, admin, bob, lead_form
):
    import re

    from tests.test_security_headers import HANDLER, INLINE_SCRIPT, assert_security_headers

    pages = [
        (admin, reverse("settings-lead-forms")),
        (admin, reverse("settings-lead-form", args=[lead_form.pk])),
        (bob, reverse("lead-balance")),
    ]
    for user, url in pages:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response, url)
        body = response.content.decode()
        assert not re.search(INLINE_SCRIPT, body), url
        assert not HANDLER.search(body), url
    public = client.get(reverse("lead-form-public", args=[lead_form.key]))
    body = public.content.decode()
    assert not re.search(r"<script", body) and not HANDLER.search(body)
    assert public["X-Content-Type-Options"] == "nosniff"
    assert public["Referrer-Policy"] == "same-origin"
