"""The first-run set-up in a real browser: from an empty install, through the token, the
organisation, the first admin, the team and its pipeline and the invitations, to a first
board. Screenshots of every step on a laptop and a phone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from unittest import mock

import pytest
from django.core import mail
from django.utils import translation
from playwright.sync_api import expect

from accounts.models import Invitation, Role, User
from accounts.tasks import invitation_send
from crm.models import Organisation
from crm.services.setup import setup_token_ensure
from pipeline.models import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/work/wt/shots")
PASSWORD = "a long and unusual passphrase"


@pytest.fixture
def shoot(page, output_dir):
    """Screenshot the page on a laptop and on a phone (also into the shared shots folder,
    when there is one)."""

    def shoot(name: str) -> None:
        for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            path = output_dir / f"setup-{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            if SHOTS.is_dir():
                shutil.copy(path, SHOTS / path.name)
        page.set_viewport_size(LAPTOP)

    return shoot


@pytest.fixture
def mailed(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    with mock.patch.object(
        invitation_send, "apply_async", side_effect=lambda args, **_: invitation_send(*args)
    ):
        yield mail.outbox


def test_from_an_empty_install_to_a_first_board(page, empty_install, shoot, mailed):
    page.set_viewport_size(LAPTOP)
    page.goto("/")
    page.wait_for_url("**/setup/")
    expect(page.locator("h1")).to_have_text("Set up your CRM")
    shoot("token")

    # A wrong token is refused on the page.
    page.fill("input[name=token]", "not-the-token")
    page.click("button:has-text('Start the set-up')")
    expect(page.locator(".errorlist")).to_contain_text("not this CRM's set-up token")

    # The link from the server's log.
    token = setup_token_ensure()
    page.goto(f"/setup/?token={token}")
    page.wait_for_url("**/setup/organisation/")
    assert token not in page.url
    page.fill("input[name=name]", "Fjord Analytics ApS")
    page.select_option("select[name=reporting_currency]", "DKK")
    page.fill("input[name=time_zone]", "Europe/Oslo")
    page.select_option("select[name=language]", "da")
    shoot("organisation")
    page.click("button:has-text('Continue')")

    page.wait_for_url("**/setup/admin/")
    page.fill("input[name=first_name]", "Ingrid")
    page.fill("input[name=last_name]", "Holm")
    page.fill("input[name=email]", "ingrid@fjord.example")
    page.fill("input[name=username]", "ingrid")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", "a different one")
    page.click("button:has-text('Create my account')")
    expect(page.locator("#id_password2_error, .errorlist").first).to_contain_text("differ")
    assert not User.objects.exists()
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shoot("admin")
    page.click("button:has-text('Create my account')")

    page.wait_for_url("**/setup/team/")
    # A reload, or any other page, comes back to the step the set-up stands at.
    page.goto("/forecast/")
    page.wait_for_url("**/setup/team/")
    page.fill("input[name=team_name]", "Sales")
    page.check("input[name=template][value=saas]")
    shoot("team")
    page.click("button:has-text('Create team and pipeline')")

    page.wait_for_url("**/setup/invite/")
    page.fill("input[name=invite-0-email]", "ole@fjord.example")
    page.fill("input[name=invite-1-email]", "kari@fjord.example")
    page.select_option("select[name=invite-1-role]", "manager")
    page.click("button:has-text('Send invitations')")
    expect(page.locator(".setup-invited")).to_contain_text("kari@fjord.example")
    shoot("invite")
    page.click("button:has-text('Continue')")

    page.wait_for_url("**/setup/import/")
    shoot("import")
    page.click("button:has-text('Finish: open the board')")

    page.wait_for_url("**/board/")
    pipeline = Pipeline.objects.get()
    assert page.url.endswith(f"/pipelines/{pipeline.pk}/board/")
    expect(page.locator(".column")).to_have_count(5)
    # The organisation speaks Danish: the pipeline from the template is made in Danish.
    with translation.override("da"):
        first_stage = translation.gettext("Demo requested")
    assert first_stage != "Demo requested"
    expect(page.locator(".column").first).to_contain_text(first_stage)
    expect(page.locator(".brand-name")).to_have_text("Fjord Analytics ApS")
    shoot("board")

    organisation = Organisation.objects.get(pk=1)
    assert (organisation.reporting_currency, organisation.language) == ("DKK", "da")
    assert organisation.setup_completed_at is not None
    assert User.objects.get(username="ingrid").is_superuser
    roles = dict(Invitation.objects.values_list("user__email", "user__memberships__role"))
    assert roles == {"ole@fjord.example": Role.SALESPERSON, "kari@fjord.example": Role.MANAGER}
    assert sorted(message.to[0] for message in mailed) == [
        "kari@fjord.example",
        "ole@fjord.example",
    ]

    # The set-up is over: its pages are gone.
    response = page.goto("/setup/")
    assert response.status == 404


def test_an_invited_colleague_joins_and_sees_the_board(page, empty_install, shoot, mailed):
    from crm.services.setup import setup_run

    setup_run(
        organisation={
            "name": "Fjord Analytics ApS",
            "reporting_currency": "EUR",
            "time_zone": "Europe/Copenhagen",
            "language": "en-gb",
            "week_start": 0,
        },
        admin={
            "username": "ingrid",
            "first_name": "Ingrid",
            "last_name": "Holm",
            "email": "ingrid@fjord.example",
            "password": PASSWORD,
        },
        team_name="Sales",
        template_key="b2b-service",
        pipeline_name="New business",
        invites=[("ole@fjord.example", Role.SALESPERSON)],
    )
    link = re.search(r"https?://\S+(/accounts/invitation/\S+/)", mailed[0].body)[1]
    page.set_viewport_size(LAPTOP)
    page.goto(link)
    page.wait_for_url("**/accept/")
    expect(page.locator("input[name=username]")).to_have_value("ole")
    page.fill("input[name=first_name]", "Ole")
    page.fill("input[name=last_name]", "Dahl")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shoot("invitation-accept")
    page.click("button:has-text('Join')")
    page.wait_for_url("**/board/")
    expect(page.locator(".usermenu-name")).to_have_text("Ole Dahl")
    assert User.objects.get(username="ole").is_active


def test_an_admin_invites_resends_and_revokes_on_the_users_page(page, admin, team_b, shoot, mailed):
    from tests.e2e.conftest import log_in

    log_in(page, "admin")
    page.set_viewport_size(LAPTOP)
    page.goto("/settings/users/")
    page.fill("#invite input[name=email]", "nora@example.com")
    page.select_option("#invite select[name=team]", label="Team B")
    page.select_option("#invite select[name=role]", "manager")
    page.click("button:has-text('Send invitation')")
    row = page.locator(".invitation-row", has_text="nora@example.com")
    expect(row).to_contain_text("Manager")
    shoot("users-invitations")
    first = mailed[-1].body
    row.locator("button:has-text('Resend')").click()
    expect(page.locator(".toast")).to_contain_text("earlier ones no longer work")
    assert len(mailed) == 2 and mailed[-1].body != first
    page.locator(".invitation-row", has_text="nora@example.com").locator(
        "button:has-text('Revoke')"
    ).click()
    expect(page.locator(".invitation-row")).to_have_count(0)
    assert not User.objects.filter(email="nora@example.com").exists()
