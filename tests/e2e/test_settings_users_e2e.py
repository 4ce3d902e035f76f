"""The users settings page in a real browser: the list, a role change in place, and the
deactivation with a handover, on a laptop and a phone."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from accounts.models import Membership, Role
from pipeline.models import Deal
from tests.e2e.conftest import log_in
from tests.factories import DealFactory, MembershipFactory, UserFactory

SHOTS = Path("/work/wt/shots")


def test_users_page_role_change_and_deactivation(
    page, admin, alice, bob, alex, carol, team_b, stages_a
):
    invited = UserFactory(username="dina", first_name="Dina", last_name="Dahl")
    invited.set_unusable_password()
    invited.save()
    MembershipFactory(user=invited, team=team_b, role=Role.MANAGER)
    MembershipFactory(user=bob, team=team_b, role=Role.SALESPERSON)
    deals = [DealFactory(stage=stages_a[0], owner=alice) for _ in range(3)]

    log_in(page, "admin")
    page.set_viewport_size({"width": 1366, "height": 850})
    page.goto("/settings/users/")
    expect(page.locator("h1")).to_have_text("Users")
    expect(page.locator(f"#user-{invited.pk}")).to_contain_text("Invited")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "users-security-users-laptop.png", full_page=True)

    page.click(f"#user-{alice.pk} a.person-name")
    expect(page.locator("h1")).to_have_text("Alice Andersen")
    membership = alice.memberships.get()
    row = page.locator(f"#membership-{membership.pk}")
    row.locator("select").select_option(Role.MANAGER)
    with page.expect_response(lambda r: "/settings/memberships/" in r.url and r.ok):
        row.get_by_role("button", name="Save role").click()
    expect(page.locator(f"#membership-{membership.pk} select")).to_have_value(Role.MANAGER)
    assert Membership.objects.get(pk=membership.pk).role == Role.MANAGER
    page.screenshot(path=SHOTS / "users-security-user-detail-laptop.png", full_page=True)

    page.select_option("#id_reassign_to", str(alex.pk))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator(".toast")).to_contain_text("3 deals")
    assert set(
        Deal.objects.filter(pk__in=[d.pk for d in deals]).values_list("owner", flat=True)
    ) == {alex.pk}

    page.goto("/settings/users/new/")
    page.screenshot(path=SHOTS / "users-security-user-create-laptop.png", full_page=True)
    page.goto("/settings/teams/")
    page.screenshot(path=SHOTS / "users-security-teams-laptop.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/settings/users/")
    expect(page.locator(f"#user-{alice.pk}")).to_contain_text("Deactivated")
    page.screenshot(path=SHOTS / "users-security-users-phone.png", full_page=True)
    page.goto(f"/settings/teams/{alice.memberships.get().team_id}/")
    page.screenshot(path=SHOTS / "users-security-team-phone.png", full_page=True)
