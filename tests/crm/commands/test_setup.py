"""`manage.py setup` (the set-up without a browser) and `manage.py setup_link`."""

from __future__ import annotations

from io import StringIO
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Invitation, Membership, Role, Team, User
from accounts.tasks import invitation_send
from crm.models import Organisation
from crm.selectors import setup as selectors
from crm.services import setup as services
from pipeline.models import Pipeline
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("empty_install")

PASSWORD = "a long and unusual passphrase"


def state():
    return (
        sorted(User.objects.values_list("pk", "username", "password")),
        sorted(Team.objects.values_list("pk", "name")),
        sorted(Membership.objects.values_list("user_id", "team_id", "role")),
        sorted(Pipeline.objects.values_list("pk", "name")),
        sorted(Invitation.objects.values_list("pk", "user_id")),
        list(
            Organisation.objects.values_list(
                "name", "reporting_currency", "setup_admin_id", "setup_completed_at"
            )
        ),
    )


@pytest.fixture(autouse=True)
def mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()


@pytest.fixture
def worker():
    with mock.patch.object(
        invitation_send, "apply_async", side_effect=lambda args, **_: invitation_send(*args)
    ):
        yield


def run(*args, **env) -> str:
    out = StringIO()
    with mock.patch.dict("os.environ", env):
        call_command("setup", *args, stdout=out)
    return out.getvalue()


BASE = [
    "--org-name",
    "Fjord Analytics ApS",
    "--admin-username",
    "ingrid",
    "--admin-email",
    "ingrid@fjord.example",
    "--team",
    "Sales",
]


def test_every_answer_as_a_flag(worker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = run(
            *BASE,
            "--currency",
            "DKK",
            "--time-zone",
            "Europe/Copenhagen",
            "--language",
            "da",
            "--week-start",
            "sunday",
            "--admin-first-name",
            "Ingrid",
            "--admin-last-name",
            "Holm",
            "--admin-password",
            PASSWORD,
            "--template",
            "minimal",
            "--pipeline-name",
            "Key accounts",
            "--invite",
            "ole@fjord.example",
            "--invite",
            "kari@fjord.example:manager",
        )
    assert "Set up Fjord Analytics ApS" in out and "2 invitation(s)" in out
    organisation = Organisation.objects.get(pk=1)
    assert (
        organisation.name,
        organisation.reporting_currency,
        organisation.time_zone,
        organisation.language,
        organisation.week_start,
    ) == ("Fjord Analytics ApS", "DKK", "Europe/Copenhagen", "da", 6)
    admin = User.objects.get(username="ingrid")
    assert admin.is_superuser and admin.check_password(PASSWORD)
    assert (admin.first_name, admin.last_name) == ("Ingrid", "Holm")
    pipeline = Pipeline.objects.get()
    assert (pipeline.name, pipeline.team.name, pipeline.stages.count()) == (
        "Key accounts",
        "Sales",
        3,
    )
    roles = dict(Invitation.objects.values_list("user__email", "user__memberships__role"))
    assert roles == {"ole@fjord.example": Role.SALESPERSON, "kari@fjord.example": Role.MANAGER}
    assert sorted(m.to[0] for m in mail.outbox) == ["kari@fjord.example", "ole@fjord.example"]
    assert selectors.setup_status().done


def test_the_password_from_a_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    run(*BASE, "--admin-password-file", str(secret))
    assert User.objects.get(username="ingrid").check_password(PASSWORD)


def test_the_password_from_the_environment():
    run(*BASE, SETUP_ADMIN_PASSWORD=PASSWORD)
    assert User.objects.get(username="ingrid").check_password(PASSWORD)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give the admin's password"),
        (["--admin-password", "short"], "Nothing was changed"),
        (["--admin-password", PASSWORD, "--currency", "XXX"], "Nothing was changed"),
        (["--admin-password", PASSWORD, "--time-zone", "Mars/Olympus"], "Nothing was changed"),
        (["--admin-password", PASSWORD, "--template", "nonsense"], "Nothing was changed"),
        (["--admin-password", PASSWORD, "--invite", "not-an-address"], "not an e-mail"),
        (["--admin-password", PASSWORD, "--invite", "a@b.example:emperor"], "role must be"),
        (
            ["--admin-password", PASSWORD, "--invite", "ingrid@fjord.example"],
            "Nothing was changed",
        ),
        (["--admin-password-file", "/nonexistent/file"], "Cannot read"),
    ],
)
def test_a_refused_answer_changes_nothing(args, message):
    before = state()
    with pytest.raises(CommandError, match=message) as refused:
        run(*BASE, *args)
    assert refused.value.returncode == 1
    assert state() == before
    assert selectors.setup_status().unclaimed


def test_refused_with_exit_code_3_when_set_up_already():
    UserFactory(username="root")
    before = state()
    with pytest.raises(CommandError, match="set up already") as refused:
        run(*BASE, "--admin-password", PASSWORD)
    assert refused.value.returncode == 3
    assert state() == before


def test_refused_the_second_time():
    run(*BASE, "--admin-password", PASSWORD)
    selectors.setup_status_forget()
    before = state()
    with pytest.raises(CommandError) as refused:
        run(*BASE, "--admin-password", PASSWORD, "--admin-username", "other")
    assert refused.value.returncode == 3
    assert state() == before


def test_setup_link_prints_the_link_while_the_install_is_empty():
    out = StringIO()
    call_command("setup_link", "--base-url", "http://127.0.0.1:8123", stdout=out)
    token = services.setup_token_ensure()
    assert f"http://127.0.0.1:8123/setup/?token={token}" in out.getvalue()
    out = StringIO()
    call_command("setup_link", "--rotate", stdout=out)
    assert token not in out.getvalue()
    assert not selectors.setup_token_matches(token)


def test_setup_link_says_so_once_set_up():
    UserFactory(username="root")
    out = StringIO()
    call_command("setup_link", stdout=out)
    assert "is set up" in out.getvalue()
    assert "token" not in out.getvalue()
