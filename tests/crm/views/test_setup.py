"""The first-run set-up's pages: every page leads to them on an empty install, the token
guards the claim (403 and nothing changed when wrong, throttled), each step refuses bad
input with 400 and nothing changed, a reload resumes, and once done they answer 404."""

from __future__ import annotations

import logging
import re
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from accounts.models import Invitation, LoginFailure, Membership, Role, Team, User
from accounts.tasks import invitation_send
from crm.models import Organisation
from crm.selectors import setup as selectors
from crm.services import setup as services
from crm.views.setup import SESSION_TOKEN
from pipeline.models import Pipeline
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.usefixtures("empty_install")

PASSWORD = "a long and unusual passphrase"
ORGANISATION = {
    "name": "Fjord Analytics ApS",
    "reporting_currency": "DKK",
    "time_zone": "Europe/Oslo",
    "language": "da",
    "week_start": "0",
}
ADMIN = {
    "first_name": "Ingrid",
    "last_name": "Holm",
    "email": "ingrid@fjord.example",
    "username": "ingrid",
    "password1": PASSWORD,
    "password2": PASSWORD,
}
TEAM = {"team_name": "Sales", "template": "b2b-service", "pipeline_name": "New business"}
STEP_URLS = [
    "setup",
    "setup-organisation",
    "setup-admin",
    "setup-team",
    "setup-invite",
    "setup-import",
    "setup-finish",
]


def state():
    """Everything the set-up can write, to show a refusal wrote nothing."""
    return (
        sorted(User.objects.values_list("pk", "username", "is_active", "password")),
        sorted(Team.objects.values_list("pk", "name")),
        sorted(Membership.objects.values_list("user_id", "team_id", "role")),
        sorted(Pipeline.objects.values_list("pk", "name", "team_id")),
        sorted(Invitation.objects.values_list("pk", "user_id", "sent_at", "accepted_at")),
        list(
            Organisation.objects.values_list(
                "name",
                "reporting_currency",
                "time_zone",
                "language",
                "week_start",
                "setup_admin_id",
                "setup_step",
                "setup_completed_at",
            )
        ),
    )


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://crm.fjord.example"
    settings.DEFAULT_FROM_EMAIL = "crm@fjord.example"
    mail.outbox.clear()


@pytest.fixture
def worker():
    """The Celery worker, in the test: a queued invitation is mailed at once."""
    with mock.patch.object(
        invitation_send, "apply_async", side_effect=lambda args, **_: invitation_send(*args)
    ) as queued:
        yield queued


@pytest.fixture
def token():
    return services.setup_token_ensure()


@pytest.fixture
def with_token(client, token):
    """A browser that opened the link from the log."""
    response = client.get(reverse("setup"), {"token": token})
    assert response.status_code == 302
    return client


@pytest.fixture
def claimed(with_token):
    """The first two steps done through the pages: the admin is signed in."""
    assert with_token.post(reverse("setup-organisation"), ORGANISATION).status_code == 302
    response = with_token.post(reverse("setup-admin"), ADMIN)
    assert response.status_code == 302, response.content
    return with_token


@pytest.fixture
def at_invite(claimed):
    assert claimed.post(reverse("setup-team"), TEAM).status_code == 302
    return claimed


# --- every page leads to the set-up -------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/admin/", "/companies/", "/settings/users/", "/nowhere/"]
)
def test_every_page_of_an_empty_install_leads_to_the_set_up(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == reverse("setup")


def test_an_htmx_request_is_sent_to_the_set_up_as_a_whole_page(client):
    response = client.get("/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("setup")


def test_health_checks_and_static_files_are_not_redirected(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/css/setup.css").status_code != 302


def test_the_first_redirect_writes_the_link_to_the_log_once(client, caplog):
    with caplog.at_level(logging.WARNING, logger="crm.setup"):
        client.get("/")
        client.get("/companies/")
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.setup"]
    token = services.setup_token_ensure()
    assert len(lines) == 1
    assert f"https://crm.fjord.example/setup/?token={token}" in lines[0]


def test_an_installed_crm_pays_no_query_for_the_check(client, django_assert_num_queries):
    UserFactory(username="root")
    selectors.setup_status()  # a running process has seen it done once
    with django_assert_num_queries(0):
        response = client.get(reverse("login"))
    assert response.status_code == 200


# --- the token ----------------------------------------------------------------------------


def test_the_start_page_asks_for_the_token(client, token):
    response = client.get(reverse("setup"))
    assert response.status_code == 200
    assert "set-up token" in response.text
    assert token not in response.text
    assert response["Cache-Control"] == "no-store"


def test_the_link_from_the_log_opens_the_set_up_and_leaves_the_address(client, token):
    response = client.get(reverse("setup"), {"token": token})
    assert response["Location"] == reverse("setup-organisation")
    assert token not in str(dict(client.session))
    assert client.get(reverse("setup"))["Location"] == reverse("setup-organisation")


def test_a_typed_token_opens_the_set_up_too(client, token):
    response = client.post(reverse("setup"), {"token": f"  {token} "})
    assert response["Location"] == reverse("setup-organisation")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_wrong_token_is_refused_with_403_and_nothing_changes(client, token, method):
    before = state()
    response = getattr(client, method)(reverse("setup"), {"token": "0" * 40})
    assert response.status_code == 403
    assert "not this CRM" in response.text
    assert SESSION_TOKEN not in client.session
    assert state() == before
    assert client.get(reverse("setup-organisation"))["Location"] == reverse("setup")


def test_an_empty_or_oversized_token_is_400(client, token):
    before = state()
    assert client.post(reverse("setup"), {"token": ""}).status_code == 400
    assert client.post(reverse("setup"), {"token": "x" * 500}).status_code == 400
    assert state() == before


def test_wrong_tokens_are_throttled_per_address(client, token, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for _ in range(3):
        assert client.post(reverse("setup"), {"token": "0" * 40}).status_code == 403
    response = client.post(reverse("setup"), {"token": token})
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert SESSION_TOKEN not in client.session
    other = client.post(reverse("setup"), {"token": token}, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 302


def test_wrong_set_up_tokens_do_not_lock_the_sign_in(client, token, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("setup"), {"token": "0" * 40})
    assert LoginFailure.objects.count() == 2
    from accounts.selectors import login_is_throttled

    assert not login_is_throttled(username="anyone", address="127.0.0.1")


@pytest.mark.parametrize("name", ["setup-organisation", "setup-admin"])
def test_without_the_token_the_first_steps_lead_back_or_refuse(client, token, name):
    before = state()
    assert client.get(reverse(name))["Location"] == reverse("setup")
    data = {**ORGANISATION, **ADMIN}
    assert client.post(reverse(name), data).status_code == 403
    session = client.session
    session["setup_organisation"] = {**ORGANISATION, "week_start": 0}
    session[SESSION_TOKEN] = "forged"
    session.save()
    assert client.post(reverse(name), data).status_code == 403
    assert state() == before


def test_a_rotated_token_ends_the_sessions_of_the_old_one(with_token):
    services.setup_token_rotate()
    assert with_token.get(reverse("setup-organisation"))["Location"] == reverse("setup")


# --- the first two steps ------------------------------------------------------------------


def test_the_organisation_step_keeps_its_answers_until_the_admin_step(with_token):
    before = state()
    response = with_token.get(reverse("setup-organisation"))
    assert response.status_code == 200
    assert 'name="language"' in response.text
    response = with_token.post(reverse("setup-organisation"), ORGANISATION)
    assert response["Location"] == reverse("setup-admin")
    assert state() == before  # nothing written before the install is claimed
    # A reload shows the answers again.
    response = with_token.get(reverse("setup-organisation"))
    assert 'value="Fjord Analytics ApS"' in response.text


@pytest.mark.parametrize(
    "changes",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"reporting_currency": "XXX"},
        {"time_zone": "Mars/Olympus"},
        {"language": "fr"},
        {"language": ""},
        {"week_start": "3"},
    ],
)
def test_bad_organisation_answers_are_400_and_change_nothing(with_token, changes):
    before = state()
    response = with_token.post(reverse("setup-organisation"), {**ORGANISATION, **changes})
    assert response.status_code == 400
    assert "setup_organisation" not in with_token.session
    assert state() == before


def test_the_admin_step_needs_the_organisation_first(with_token):
    assert with_token.get(reverse("setup-admin"))["Location"] == reverse("setup-organisation")


@pytest.mark.parametrize(
    "changes",
    [
        {"password2": "something else entirely"},
        {"password1": "short", "password2": "short"},
        {"username": "has spaces"},
        {"email": "not-an-address"},
        {"first_name": ""},
    ],
)
def test_bad_admin_answers_are_400_and_change_nothing(with_token, changes):
    with_token.post(reverse("setup-organisation"), ORGANISATION)
    before = state()
    response = with_token.post(reverse("setup-admin"), {**ADMIN, **changes})
    assert response.status_code == 400
    assert state() == before
    assert SESSION_KEY not in with_token.session


def test_the_admin_step_claims_the_install_and_signs_the_admin_in(claimed, token):
    admin = User.objects.get(username="ingrid")
    assert admin.is_superuser and admin.check_password(PASSWORD)
    assert int(claimed.session[SESSION_KEY]) == admin.pk
    assert SESSION_TOKEN not in claimed.session
    organisation = Organisation.objects.get(pk=1)
    assert (organisation.name, organisation.reporting_currency, organisation.language) == (
        "Fjord Analytics ApS",
        "DKK",
        "da",
    )
    assert not selectors.setup_token_matches(token)


def test_a_second_browser_cannot_claim_it_again(claimed, token):
    other = Client()
    before = state()
    # The token is dead: the start leads to the admin's steps, which need the admin.
    response = other.get(reverse("setup"), {"token": token})
    assert response["Location"] == reverse("setup-team")
    assert other.get(reverse("setup-team"))["Location"].startswith(reverse("login"))
    assert other.post(reverse("setup-admin"), {**ADMIN, "username": "mallory"}).status_code == 302
    assert state() == before


def test_two_claims_at_once_make_one_admin(with_token):
    """The second claim finds a user under the organisation's lock and is refused (404)."""
    with_token.post(reverse("setup-organisation"), ORGANISATION)
    services.setup_claim(
        name="First",
        reporting_currency="EUR",
        time_zone="UTC",
        language="en-gb",
        week_start=0,
        username="first",
        first_name="",
        last_name="",
        email="first@example.com",
        password=PASSWORD,
    )
    selectors.setup_status_forget()
    with mock.patch("crm.views.setup._token_door", return_value=None):
        before = state()
        response = with_token.post(reverse("setup-admin"), ADMIN)
    assert response.status_code == 404
    assert state() == before


# --- the admin's steps --------------------------------------------------------------------


def test_every_page_leads_the_admin_back_to_the_step_they_are_at(claimed):
    assert claimed.get("/")["Location"] == reverse("setup")
    assert claimed.get(reverse("setup"))["Location"] == reverse("setup-team")
    assert claimed.get(reverse("setup-invite"))["Location"] == reverse("setup-team")
    assert claimed.get(reverse("setup-organisation"))["Location"] == reverse("setup")


def test_signing_out_is_possible_in_the_middle(claimed):
    response = claimed.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert SESSION_KEY not in claimed.session
    assert claimed.get(reverse("login")).status_code == 200


def test_other_people_are_not_led_to_the_admins_set_up(claimed):
    newcomer = UserFactory(username="newcomer")
    other = Client()
    other.force_login(newcomer)
    assert other.get(reverse("company-list")).status_code == 200


def test_someone_else_signed_in_gets_403_on_the_admins_steps(claimed):
    seller = UserFactory(username="seller")
    team = Team.objects.create(name="Elsewhere")
    MembershipFactory(user=seller, team=team, role=Role.SALESPERSON)
    other = Client()
    other.force_login(seller)
    before = state()
    for name in ("setup-team", "setup-import"):
        assert other.get(reverse(name)).status_code == 403
    assert other.post(reverse("setup-team"), TEAM).status_code == 403
    assert other.post(reverse("setup-finish"), {"then": "board"}).status_code == 403
    assert state() == before


def test_the_team_step_creates_the_team_and_its_pipeline(claimed):
    response = claimed.get(reverse("setup-team"))
    assert response.status_code == 200
    # The page speaks the organisation's language (Danish, as claimed), templates included.
    with translation.override("da"):
        names = [translation.gettext("B2B services"), translation.gettext("SaaS subscriptions")]
    assert names != ["B2B services", "SaaS subscriptions"]
    assert all(escape(name) in response.text for name in names)
    response = claimed.post(reverse("setup-team"), TEAM)
    assert response["Location"] == reverse("setup-invite")
    pipeline = Pipeline.objects.get()
    assert (pipeline.name, pipeline.team.name) == ("New business", "Sales")
    assert pipeline.stages.count() == 5
    assert Membership.objects.get(team=pipeline.team).role == Role.ADMIN


@pytest.mark.parametrize(
    "changes",
    [
        {"team_name": ""},
        {"template": "nonsense"},
        {"template": ""},
        {"pipeline_name": "x" * 101},
        {"team_name": "x" * 101},
    ],
)
def test_bad_team_answers_are_400_and_change_nothing(claimed, changes):
    before = state()
    assert claimed.post(reverse("setup-team"), {**TEAM, **changes}).status_code == 400
    assert state() == before


def test_a_second_team_submit_creates_nothing_more(at_invite):
    before = state()
    response = at_invite.post(reverse("setup-team"), {**TEAM, "team_name": "Again"})
    assert response["Location"] == reverse("setup-invite")
    assert state() == before


def test_invitations_from_the_set_up_are_mailed(
    at_invite, worker, django_capture_on_commit_callbacks
):
    data = {
        "action": "send",
        "invite-TOTAL_FORMS": "4",
        "invite-INITIAL_FORMS": "0",
        "invite-0-email": "ole@fjord.example",
        "invite-0-role": "salesperson",
        "invite-1-email": "kari@fjord.example",
        "invite-1-role": "manager",
        "invite-2-email": "",
        "invite-2-role": "salesperson",
        "invite-3-email": "OLE@fjord.example",
        "invite-3-role": "salesperson",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = at_invite.post(reverse("setup-invite"), data)
    assert response["Location"] == reverse("setup-invite")
    invited = {i.user.email: i.user for i in Invitation.objects.select_related("user")}
    assert set(invited) == {"ole@fjord.example", "kari@fjord.example"}
    assert invited["kari@fjord.example"].memberships.get().role == Role.MANAGER
    assert not invited["ole@fjord.example"].is_active
    assert sorted(m.to[0] for m in mail.outbox) == ["kari@fjord.example", "ole@fjord.example"]
    assert "https://crm.fjord.example/accounts/invitation/" in mail.outbox[0].body
    page = at_invite.get(reverse("setup-invite"))
    assert "kari@fjord.example" in page.text


@pytest.mark.parametrize(
    "rows",
    [
        {"invite-0-email": "not-an-address"},
        {"invite-0-email": "ole@fjord.example", "invite-0-role": "emperor"},
        {"invite-0-email": ""},
        {"invite-0-email": "ole@fjord.example", "invite-1-email": "ingrid@fjord.example"},
    ],
)
def test_bad_invitations_are_400_and_change_nothing(at_invite, rows, worker):
    data = {
        "action": "send",
        "invite-TOTAL_FORMS": "2",
        "invite-INITIAL_FORMS": "0",
        "invite-0-role": "salesperson",
        "invite-1-role": "salesperson",
        **rows,
    }
    before = state()
    response = at_invite.post(reverse("setup-invite"), data)
    assert response.status_code == 400
    assert state() == before
    assert mail.outbox == []


def test_too_many_invitation_rows_are_400(at_invite):
    data = {"action": "send", "invite-TOTAL_FORMS": "500", "invite-INITIAL_FORMS": "0"}
    before = state()
    assert at_invite.post(reverse("setup-invite"), data).status_code == 400
    assert state() == before


def test_an_unknown_action_is_400(at_invite):
    before = state()
    assert at_invite.post(reverse("setup-invite"), {"action": "explode"}).status_code == 400
    assert state() == before


def test_skipping_the_invitations_then_finishing_opens_the_board(at_invite):
    response = at_invite.post(reverse("setup-invite"), {"action": "next"})
    assert response["Location"] == reverse("setup-import")
    page = at_invite.get(reverse("setup-import"))
    assert page.status_code == 200
    assert 'name="then" value="import"' in page.text  # the import pages are there
    response = at_invite.post(reverse("setup-finish"), {"then": "board"})
    assert response["Location"] == reverse("home")
    pipeline = Pipeline.objects.get()
    assert at_invite.get("/")["Location"] == reverse("board", args=[pipeline.pk])
    assert at_invite.get(reverse("board", args=[pipeline.pk])).status_code == 200


def test_finishing_with_import_opens_the_import_page_when_there_is_one(at_invite):
    at_invite.post(reverse("setup-invite"), {"action": "next"})
    with mock.patch("crm.views.setup._import_url", return_value="/import/"):
        assert 'value="import"' in at_invite.get(reverse("setup-import")).text
        response = at_invite.post(reverse("setup-finish"), {"then": "import"})
    assert response["Location"] == "/import/"


def test_a_bad_finish_is_400_and_changes_nothing(at_invite):
    at_invite.post(reverse("setup-invite"), {"action": "next"})
    before = state()
    assert at_invite.post(reverse("setup-finish"), {"then": "moon"}).status_code == 400
    assert state() == before


def test_a_reload_resumes_where_the_set_up_stands(at_invite):
    assert at_invite.get(reverse("setup"))["Location"] == reverse("setup-invite")
    at_invite.post(reverse("setup-invite"), {"action": "next"})
    # Signed in again in another browser, the admin is back at the same step.
    other = Client()
    other.force_login(User.objects.get(username="ingrid"))
    assert other.get("/")["Location"] == reverse("setup")
    assert other.get(reverse("setup"))["Location"] == reverse("setup-import")


# --- once done ----------------------------------------------------------------------------


def test_once_done_every_set_up_url_is_404(at_invite, token):
    at_invite.post(reverse("setup-invite"), {"action": "next"})
    at_invite.post(reverse("setup-finish"), {"then": "board"})
    selectors.setup_status_forget()  # as another process would read it
    anonymous = Client()
    for client in (at_invite, anonymous):
        for name in STEP_URLS:
            assert client.get(reverse(name)).status_code == 404, name
            assert client.post(reverse(name), {"token": token}).status_code == 404, name
    assert anonymous.get(reverse("setup"), {"token": token}).status_code == 404
    assert anonymous.get("/")["Location"].startswith(reverse("login"))


def test_an_install_made_by_createsuperuser_has_no_set_up(client):
    UserFactory(username="root", is_superuser=True)
    assert client.get(reverse("setup")).status_code == 404
    assert client.get(reverse("login")).status_code == 200


def test_the_organisation_settings_page_changes_the_language_later(client):
    admin = UserFactory(username="root", is_superuser=True)
    client.force_login(admin)
    response = client.get(reverse("settings-organisation"))
    assert re.search(r'<select name="language"', response.text)
    data = {
        "name": "Fjord",
        "reporting_currency": "EUR",
        "time_zone": "UTC",
        "week_start": "0",
        "language": "sv",
    }
    assert client.post(reverse("settings-organisation"), data).status_code == 302
    assert Organisation.objects.get(pk=1).language == "sv"


def test_finishing_with_an_import_opens_the_import_page(at_invite):
    at_invite.post(reverse("setup-invite"), {"action": "next"})
    response = at_invite.post(reverse("setup-finish"), {"then": "import"})
    assert response["Location"] == reverse("import-start")
    assert at_invite.get(response["Location"]).status_code == 200
