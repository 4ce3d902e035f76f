"""The first-run set-up's services: the token (derived, never stored, constant-time, dead
once the install is claimed), the claim, the steps and the whole set-up at once."""

from __future__ import annotations

from unittest import mock

import pytest
from django.utils import translation

from accounts.models import Invitation, Membership, Role, Team, User
from crm.models import Organisation
from crm.selectors import setup as selectors
from crm.services import setup as services
from crm.services.organisation import OrganisationRuleError
from pipeline.models import ExitCriterion, FollowUpRoutine, Pipeline, Stage
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("empty_install")

PASSWORD = "a long and unusual passphrase"
ORGANISATION = {
    "name": "Fjord Analytics ApS",
    "reporting_currency": "DKK",
    "time_zone": "Europe/Oslo",
    "language": "da",
    "week_start": 0,
}
ADMIN = {
    "username": "ingrid",
    "first_name": "Ingrid",
    "last_name": "Holm",
    "email": "ingrid@fjord.example",
    "password": PASSWORD,
}


def state():
    """Everything the set-up writes, to show that a refusal wrote nothing."""
    return (
        sorted(User.objects.values_list("pk", "username", "is_active", "is_superuser")),
        sorted(Team.objects.values_list("pk", "name")),
        sorted(Membership.objects.values_list("user_id", "team_id", "role")),
        sorted(Pipeline.objects.values_list("pk", "name", "team_id")),
        sorted(Invitation.objects.values_list("pk", "user_id", "accepted_at")),
        list(
            Organisation.objects.values_list(
                "name",
                "reporting_currency",
                "time_zone",
                "language",
                "setup_admin_id",
                "setup_step",
                "setup_completed_at",
            )
        ),
    )


def claim(**changes):
    return services.setup_claim(**{**ORGANISATION, **ADMIN, **changes})


# --- the token ----------------------------------------------------------------------------


def test_the_token_is_derived_from_a_stored_salt_and_never_stored_itself():
    token = services.setup_token_ensure()
    row = Organisation.objects.values().get(pk=1)
    assert len(token) == selectors.TOKEN_LENGTH
    assert token not in str(row)
    assert row["setup_token_salt"] and row["setup_token_salt"] != token
    # Every process derives the same token from the salt, across restarts.
    assert selectors.setup_token_for_salt(row["setup_token_salt"]) == token
    assert services.setup_token_ensure() == token


def test_the_token_depends_on_the_secret_key(settings):
    token = services.setup_token_ensure()
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert services.setup_token_ensure() != token
    assert not selectors.setup_token_matches(token)


def test_the_token_is_compared_in_constant_time():
    token = services.setup_token_ensure()
    with mock.patch.object(
        selectors.hmac, "compare_digest", wraps=selectors.hmac.compare_digest
    ) as compare:
        assert selectors.setup_token_matches(token)
        assert not selectors.setup_token_matches(token[:-1] + "x")
    assert compare.call_count == 2


@pytest.mark.parametrize("wrong", ["", "x" * 40, "ø" * 40, None, 12345])
def test_anything_but_the_token_does_not_match(wrong):
    services.setup_token_ensure()
    assert not selectors.setup_token_matches(wrong)


def test_no_token_matches_before_one_was_made():
    assert not selectors.setup_token_matches("")
    assert not selectors.setup_token_matches(selectors.setup_token_for_salt(""))


def test_a_new_token_kills_the_old_one():
    old = services.setup_token_ensure()
    new = services.setup_token_rotate()
    assert new != old
    assert selectors.setup_token_matches(new)
    assert not selectors.setup_token_matches(old)


def test_the_token_is_dead_once_the_install_is_claimed():
    token = services.setup_token_ensure()
    claim()
    assert not selectors.setup_token_matches(token)
    assert Organisation.objects.get(pk=1).setup_token_salt == ""
    assert services.setup_token_ensure() is None
    assert services.setup_token_rotate() is None


def test_an_install_with_users_has_no_token():
    UserFactory()
    assert selectors.setup_status().done
    assert services.setup_token_ensure() is None


# --- phases -------------------------------------------------------------------------------


def test_phases_from_empty_to_done():
    assert selectors.setup_status().unclaimed
    admin = claim()
    status = selectors.setup_status()
    assert status.in_progress and status.admin_id == admin.pk and status.step == "team"
    services.setup_team_create(
        acting_user=admin, team_name="Sales", template_key="b2b-service", pipeline_name="New"
    )
    assert selectors.setup_status().step == "invite"
    assert services.setup_step_done(acting_user=admin, step="invite")
    assert selectors.setup_status().step == "import"
    assert services.setup_finish(acting_user=admin)
    assert selectors.setup_status().done
    # Done is remembered: no query from now on.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert selectors.setup_status().done
    assert len(queries) == 0


def test_an_install_set_up_without_the_set_up_is_done():
    UserFactory(username="root", is_superuser=True)
    assert selectors.setup_status().done


# --- the claim ----------------------------------------------------------------------------


def test_the_claim_writes_the_organisation_and_the_first_admin_at_once():
    admin = claim()
    organisation = Organisation.objects.get(pk=1)
    assert (organisation.name, organisation.reporting_currency, organisation.time_zone) == (
        "Fjord Analytics ApS",
        "DKK",
        "Europe/Oslo",
    )
    assert organisation.language == "da"
    assert organisation.setup_admin_id == admin.pk
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert admin.check_password(PASSWORD)


def test_a_second_claim_is_refused_and_changes_nothing():
    claim()
    before = state()
    with pytest.raises(services.SetupAlreadyDone):
        claim(username="mallory", email="mallory@example.com", name="Taken over")
    assert state() == before


def test_no_claim_once_anyone_exists():
    UserFactory(username="root")
    before = state()
    with pytest.raises(services.SetupAlreadyDone):
        claim()
    assert state() == before


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"password": "short"}, services.SetupRuleError),
        ({"username": "no spaces allowed"}, services.SetupRuleError),
        ({"reporting_currency": "XXX"}, OrganisationRuleError),
        ({"time_zone": "Mars/Olympus"}, OrganisationRuleError),
        ({"language": "fr"}, OrganisationRuleError),
        ({"name": ""}, OrganisationRuleError),
    ],
)
def test_a_refused_answer_claims_nothing(changes, error):
    services.setup_token_ensure()
    before = state()
    with pytest.raises(error):
        claim(**changes)
    assert state() == before
    assert selectors.setup_status().unclaimed


# --- the later steps ----------------------------------------------------------------------


def in_setup_language(names: list[str]) -> list[str]:
    """The template's names as the organisation's language (Danish, as claimed) says them:
    set-up creates the pipeline in that language."""
    with translation.override("da"):
        translated = [translation.gettext(name) for name in names]
    assert translated != names  # the catalogue has them
    return translated


@pytest.fixture
def claimed():
    return claim()


def test_the_team_step_makes_the_team_its_pipeline_and_the_admin_its_admin(claimed):
    pipeline = services.setup_team_create(
        acting_user=claimed, team_name=" Sales ", template_key="b2b-service", pipeline_name="New"
    )
    assert pipeline.team.name == "Sales"
    assert Membership.objects.get(user=claimed).role == Role.ADMIN
    assert list(
        Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("name", flat=True)
    ) == in_setup_language(
        ["Interested", "Need confirmed", "Proposal under review", "Terms agreed", "Ready to sign"]
    )
    # The template's exit criteria and follow-up routines come with it.
    assert ExitCriterion.objects.filter(stage__pipeline=pipeline).exists()
    assert FollowUpRoutine.objects.filter(stage__pipeline=pipeline).exists()
    assert selectors.setup_team_for(admin=claimed) == pipeline.team


def test_a_blank_pipeline_name_is_the_templates(claimed):
    pipeline = services.setup_team_create(
        acting_user=claimed, team_name="Sales", template_key="saas", pipeline_name=" "
    )
    assert pipeline.name == in_setup_language(["SaaS subscriptions"])[0]


def test_the_team_step_runs_once(claimed):
    services.setup_team_create(
        acting_user=claimed, team_name="Sales", template_key="minimal", pipeline_name="New"
    )
    before = state()
    with pytest.raises(services.SetupRuleError):
        services.setup_team_create(
            acting_user=claimed, team_name="Other", template_key="minimal", pipeline_name="New"
        )
    assert state() == before


@pytest.mark.parametrize(
    "changes",
    [{"template_key": "nonsense"}, {"team_name": "  "}, {"pipeline_name": "x" * 101}],
)
def test_a_refused_team_step_creates_nothing(claimed, changes):
    before = state()
    answers = {"team_name": "Sales", "template_key": "b2b-service", "pipeline_name": "New"}
    with pytest.raises(services.SetupRuleError):
        services.setup_team_create(acting_user=claimed, **{**answers, **changes})
    assert state() == before


def test_finishing_needs_the_team_step_and_is_idempotent(claimed):
    before = state()
    with pytest.raises(services.SetupRuleError):
        services.setup_finish(acting_user=claimed)
    assert state() == before
    services.setup_team_create(
        acting_user=claimed, team_name="Sales", template_key="b2b-service", pipeline_name="New"
    )
    assert services.setup_finish(acting_user=claimed)
    assert not services.setup_finish(acting_user=claimed)


def test_invitations_are_all_or_nothing(claimed, django_capture_on_commit_callbacks):
    pipeline = services.setup_team_create(
        acting_user=claimed, team_name="Sales", template_key="b2b-service", pipeline_name="New"
    )
    before = state()
    with pytest.raises(services.SetupRuleError) as refused:
        services.setup_invitations_create(
            acting_user=claimed,
            team=pipeline.team,
            invites=[("ole@fjord.example", "salesperson"), (ADMIN["email"], "manager")],
        )
    assert ADMIN["email"] in refused.value.message
    assert state() == before


# --- everything at once -------------------------------------------------------------------


def test_the_whole_set_up_at_once(django_capture_on_commit_callbacks):
    with mock.patch("accounts.services.enqueue", return_value=True):
        result = services.setup_run(
            organisation=ORGANISATION,
            admin=ADMIN,
            team_name="Sales",
            template_key="b2b-service",
            pipeline_name="New business",
            invites=[("ole@fjord.example", "manager")],
        )
    assert selectors.setup_status().done
    assert result.pipeline.team.name == "Sales"
    invited = result.invitations[0].user
    assert (invited.is_active, invited.memberships.get().role) == (False, Role.MANAGER)


def test_the_whole_set_up_writes_nothing_when_one_answer_is_refused():
    before = state()
    with pytest.raises(services.SetupRuleError):
        services.setup_run(
            organisation=ORGANISATION,
            admin=ADMIN,
            team_name="Sales",
            template_key="b2b-service",
            pipeline_name="New business",
            invites=[("ole@fjord.example", "emperor")],
        )
    assert state() == before
    assert selectors.setup_status().unclaimed
