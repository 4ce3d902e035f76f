"""Teams settings: create, rename, visibility mode, members; admins only."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import Membership, Role, Team, User
from pipeline.models import Deal
from tests.factories import DealFactory


def state():
    return (
        sorted(Team.objects.values_list("pk", "name", "own_deals_only")),
        sorted(Membership.objects.values_list("user_id", "team_id", "role")),
    )


def test_admin_creates_a_team(client, admin):
    client.force_login(admin)
    response = client.post(reverse("settings-teams"), {"name": "Key accounts"})
    team = Team.objects.get(name="Key accounts")
    assert response.status_code == 302
    assert response["Location"] == reverse("settings-team-detail", args=[team.pk])
    assert not team.own_deals_only


def test_team_names_are_unique_and_bounded(client, admin, team_a):
    client.force_login(admin)
    before = state()
    for name in ["team a", "", "x" * 101]:
        response = client.post(reverse("settings-teams"), {"name": name})
        assert response.status_code == 400, name
    assert state() == before


def test_rename_and_switch_to_own_deals_only(client, admin, team_a):
    client.force_login(admin)
    response = client.post(
        reverse("settings-team-detail", args=[team_a.pk]),
        {"name": "Nordic sales", "own_deals_only": "on"},
    )
    assert response.status_code == 302
    team_a.refresh_from_db()
    assert (team_a.name, team_a.own_deals_only) == ("Nordic sales", True)


def test_rename_to_another_teams_name_is_refused(client, admin, team_a, team_b):
    client.force_login(admin)
    before = state()
    response = client.post(reverse("settings-team-detail", args=[team_a.pk]), {"name": "TEAM B"})
    assert response.status_code == 400
    assert "A team with that name exists." in response.text
    assert state() == before


def test_visibility_mode_changes_what_a_salesperson_sees(client, admin, alice, alex, stages_a):
    alexs = DealFactory(stage=stages_a[0], owner=alex)
    unassigned = DealFactory(stage=stages_a[0], owner=None)
    team = alice.memberships.get().team
    assert Deal.objects.visible_to(alice).filter(pk=alexs.pk).exists()

    client.force_login(admin)
    client.post(
        reverse("settings-team-detail", args=[team.pk]),
        {"name": team.name, "own_deals_only": "on"},
    )

    alice = User.objects.get(pk=alice.pk)  # a fresh request reads the access anew
    visible = set(Deal.objects.visible_to(alice).values_list("pk", flat=True))
    assert alexs.pk not in visible and unassigned.pk in visible


def test_add_member_and_change_role_and_remove(client, admin, carol, team_a):
    client.force_login(admin)
    response = client.post(
        reverse("settings-team-member-add", args=[team_a.pk]),
        {"user": carol.pk, "role": Role.MANAGER},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=carol, team=team_a)
    assert membership.role == Role.MANAGER

    htmx = client.post(
        reverse("settings-membership-update", args=[membership.pk]),
        {"role": Role.SALESPERSON, "back": "team"},
        HTTP_HX_REQUEST="true",
    )
    assert htmx.status_code == 200 and 'id="members"' in htmx.text
    membership.refresh_from_db()
    assert membership.role == Role.SALESPERSON

    removed = client.post(
        reverse("settings-membership-remove", args=[membership.pk]), {"back": "team"}
    )
    assert removed["Location"] == reverse("settings-team-detail", args=[team_a.pk])
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_adding_a_member_twice_or_a_deactivated_user_is_refused(
    client, admin, alice, carol, team_a
):
    carol.is_active = False
    carol.save()
    client.force_login(admin)
    before = state()
    for user in (alice, carol):
        response = client.post(
            reverse("settings-team-member-add", args=[team_a.pk]),
            {"user": user.pk, "role": Role.MANAGER},
        )
        assert response.status_code == 400
    assert state() == before


def test_team_list_shows_counts_and_mode(client, admin, alice, bob, team_a, stages_a):
    team_a.own_deals_only = True
    team_a.save()
    client.force_login(admin)
    response = client.get(reverse("settings-teams"))
    team = next(t for t in response.context["teams"] if t.pk == team_a.pk)
    assert (team.member_count, team.pipeline_count) == (3, 1)
    assert "Own deals only" in response.text


def test_team_page_lists_members_with_roles(client, admin, alice, bob, team_a):
    client.force_login(admin)
    response = client.get(reverse("settings-team-detail", args=[team_a.pk]))
    assert "Alice Andersen" in response.text and "Bob Berg" in response.text
    assert f'id="membership-{bob.memberships.get().pk}"' in response.text
