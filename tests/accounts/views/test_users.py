"""Users settings: only admins get in; creating, inviting, editing, memberships,
deactivation with a handover, reactivation, and the last-admin guard."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from accounts.models import Membership, Role, Team, User
from crm.models import Company
from pipeline.models import Activity, Deal, StageTotal
from tests.factories import CompanyFactory, DealFactory, MembershipFactory, UserFactory

PASSWORD = "correct-horse-battery"


def state():
    """Everything these pages can change, to show a refused request changed nothing."""
    return (
        sorted(
            User.objects.values_list(
                "pk", "username", "first_name", "last_name", "email", "is_active", "password"
            )
        ),
        sorted(Membership.objects.values_list("user_id", "team_id", "role")),
        sorted(Team.objects.values_list("pk", "name", "own_deals_only")),
        sorted(Deal.objects.values_list("pk", "owner_id", "version")),
        sorted(Company.objects.values_list("pk", "owner_id")),
    )


def settings_requests(member: User, membership: Membership, team: Team):
    """Every users/teams settings URL with a request that would change something."""
    return [
        ("get", reverse("settings-users"), {}),
        ("get", reverse("settings-user-create"), {}),
        (
            "post",
            reverse("settings-user-create"),
            {
                "username": "newbie",
                "first_name": "New",
                "team": team.pk,
                "role": Role.ADMIN,
                "sign_in": "link",
            },
        ),
        ("get", reverse("settings-user-detail", args=[member.pk]), {}),
        ("post", reverse("settings-user-detail", args=[member.pk]), {"first_name": "Hacked"}),
        (
            "post",
            reverse("settings-user-membership-add", args=[member.pk]),
            {"team": team.pk, "role": Role.ADMIN},
        ),
        ("post", reverse("settings-user-deactivate", args=[member.pk]), {}),
        ("post", reverse("settings-user-reactivate", args=[member.pk]), {}),
        ("post", reverse("settings-user-password-link", args=[member.pk]), {}),
        (
            "post",
            reverse("settings-membership-update", args=[membership.pk]),
            {"role": Role.ADMIN},
        ),
        ("post", reverse("settings-membership-remove", args=[membership.pk]), {}),
        ("get", reverse("settings-teams"), {}),
        ("post", reverse("settings-teams"), {"name": "Hackers"}),
        ("get", reverse("settings-team-detail", args=[team.pk]), {}),
        ("post", reverse("settings-team-detail", args=[team.pk]), {"name": "Renamed"}),
        (
            "post",
            reverse("settings-team-member-add", args=[team.pk]),
            {"user": member.pk, "role": Role.ADMIN},
        ),
    ]


@pytest.fixture
def everyone(alice, bob, alex, carol, admin, team_b):
    return {"alice": alice, "bob": bob, "alex": alex, "carol": carol, "admin": admin}


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_non_admins_get_403_on_every_settings_url_and_nothing_changes(client, everyone, persona):
    client.force_login(everyone[persona])
    alice = everyone["alice"]
    membership = alice.memberships.get()
    before = state()
    for method, url, data in settings_requests(alice, membership, membership.team):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url)
        response = getattr(client, method)(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 403, (method, url, "htmx")
    assert state() == before


def test_signed_out_visitors_are_sent_to_sign_in(client, everyone):
    alice = everyone["alice"]
    membership = alice.memberships.get()
    before = state()
    for method, url, data in settings_requests(alice, membership, membership.team):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))
    assert state() == before


def test_unknown_ids_get_404_for_an_admin(client, everyone):
    client.force_login(everyone["admin"])
    ghost_user = User(pk=999_999)
    ghost_membership = Membership(pk=999_999)
    ghost_team = Team(pk=999_999)
    before = state()
    for method, url, data in settings_requests(ghost_user, ghost_membership, ghost_team):
        if "999999" not in url:
            continue
        assert getattr(client, method)(url, data).status_code == 404, url
    assert state() == before


def test_admin_sees_every_settings_page(client, everyone):
    client.force_login(everyone["admin"])
    alice = everyone["alice"]
    for name, args in [
        ("settings-users", []),
        ("settings-user-create", []),
        ("settings-user-detail", [alice.pk]),
        ("settings-teams", []),
        ("settings-team-detail", [alice.memberships.get().team_id]),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_user_list_shows_people_teams_roles_and_status(client, everyone):
    carol = everyone["carol"]
    carol.is_active = False
    carol.save()
    client.force_login(everyone["admin"])
    response = client.get(reverse("settings-users"))
    text = response.text
    assert "Alice Andersen" in text and "alice@example.com" in text
    assert "Team A" in text and "Manager" in text and "Admin" in text
    assert "Deactivated" in text
    assert "Never" in text  # nobody in the fixtures has signed in


# --- create and invite --------------------------------------------------------------------


def test_admin_creates_a_user_with_a_password(client, everyone, team_b):
    client.force_login(everyone["admin"])
    response = client.post(
        reverse("settings-user-create"),
        {
            "username": "dora",
            "first_name": "Dora",
            "last_name": "Dahl",
            "email": "dora@example.com",
            "team": team_b.pk,
            "role": Role.MANAGER,
            "sign_in": "password",
            "password": "a-long-first-password-9",
        },
    )
    dora = User.objects.get(username="dora")
    assert response.status_code == 302
    assert response["Location"] == reverse("settings-user-detail", args=[dora.pk])
    assert dora.check_password("a-long-first-password-9")
    assert list(dora.memberships.values_list("team_id", "role")) == [(team_b.pk, Role.MANAGER)]
    client.logout()
    login = client.post(
        reverse("login"), {"username": "dora", "password": "a-long-first-password-9"}
    )
    assert login.status_code == 302


def test_invite_shows_a_one_time_link_and_mails_it(
    client, everyone, team_b, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://crm.example.com"
    settings.DEFAULT_FROM_EMAIL = "crm@example.com"
    client.force_login(everyone["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("settings-user-create"),
            {
                "username": "erik",
                "first_name": "Erik",
                "email": "erik@example.com",
                "team": team_b.pk,
                "role": Role.SALESPERSON,
                "sign_in": "link",
            },
        )
    erik = User.objects.get(username="erik")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert not erik.has_usable_password()
    # The link starts with SITE_URL, not with the Host header of the admin's request.
    link = re.search(
        r'value="(https://crm\.example\.com/accounts/set-password/[^"]+)"', response.text
    )[1]
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body
    assert mail.outbox[0].to == ["erik@example.com"]
    assert mail.outbox[0].from_email == "Nordlys Solutions <crm@example.com>"
    assert "testserver" not in mail.outbox[0].body

    client.logout()
    page = client.get(link.removeprefix("https://crm.example.com"), follow=True)
    assert page.status_code == 200 and 'name="new_password1"' in page.text
    new = "erik-chose-this-one-77"
    done = client.post(page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    erik.refresh_from_db()
    assert erik.check_password(new)
    # The link works once.
    again = client.get(link, follow=True)
    assert "This link no longer works" in again.text


def test_create_with_a_taken_username_or_weak_password_is_refused(client, everyone, team_b):
    client.force_login(everyone["admin"])
    before = state()
    base = {"first_name": "X", "team": team_b.pk, "role": Role.SALESPERSON}
    taken = client.post(
        reverse("settings-user-create"), {**base, "username": "ALICE", "sign_in": "link"}
    )
    weak = client.post(
        reverse("settings-user-create"),
        {**base, "username": "fred", "sign_in": "password", "password": "12345678"},
    )
    missing = client.post(
        reverse("settings-user-create"), {**base, "username": "fred", "sign_in": "password"}
    )
    bad_role = client.post(
        reverse("settings-user-create"),
        {**base, "username": "fred", "sign_in": "link", "role": "owner"},
    )
    long_name = client.post(
        reverse("settings-user-create"), {**base, "username": "f" * 151, "sign_in": "link"}
    )
    for response in (taken, weak, missing, bad_role, long_name):
        assert response.status_code == 400
    assert "That user name is taken." in taken.text
    assert state() == before
    assert mail.outbox == []


# --- edit and memberships -----------------------------------------------------------------


def test_admin_edits_name_and_email(client, everyone):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    data = {"first_name": "Alicia", "last_name": "Andersen", "email": "alicia@example.com"}
    response = client.post(reverse("settings-user-detail", args=[alice.pk]), data)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.email) == ("Alicia", "alicia@example.com")


def test_bad_email_is_refused_and_nothing_changes(client, everyone):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    before = state()
    response = client.post(
        reverse("settings-user-detail", args=[alice.pk]),
        {"first_name": "Alice", "email": "not-an-address"},
    )
    assert response.status_code == 400
    assert state() == before


def test_a_user_can_be_in_several_teams_with_a_role_in_each(client, everyone, team_b):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    response = client.post(
        reverse("settings-user-membership-add", args=[alice.pk]),
        {"team": team_b.pk, "role": Role.MANAGER},
    )
    assert response.status_code == 302
    roles = dict(alice.memberships.values_list("team__name", "role"))
    assert roles == {"Team A": Role.SALESPERSON, "Team B": Role.MANAGER}


def test_adding_a_team_the_user_is_in_already_is_refused(client, everyone, team_a):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    before = state()
    response = client.post(
        reverse("settings-user-membership-add", args=[alice.pk]),
        {"team": team_a.pk, "role": Role.ADMIN},
    )
    assert response.status_code == 400
    assert state() == before


def test_role_change_plain_and_htmx(client, everyone):
    alice = everyone["alice"]
    membership = alice.memberships.get()
    client.force_login(everyone["admin"])
    url = reverse("settings-membership-update", args=[membership.pk])

    plain = client.post(url, {"role": Role.MANAGER, "back": "user"})
    assert plain.status_code == 302
    assert plain["Location"] == reverse("settings-user-detail", args=[alice.pk])
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER

    htmx = client.post(url, {"role": Role.SALESPERSON, "back": "team"}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    assert htmx.text.lstrip().startswith('<section class="panel" id="members"')
    membership.refresh_from_db()
    assert membership.role == Role.SALESPERSON


def test_a_bad_role_is_refused(client, everyone):
    membership = everyone["alice"].memberships.get()
    client.force_login(everyone["admin"])
    before = state()
    url = reverse("settings-membership-update", args=[membership.pk])
    assert client.post(url, {"role": "owner"}).status_code == 400
    assert client.post(url, {"role": Role.ADMIN, "back": "x"}).status_code == 400
    assert state() == before


def test_membership_remove_plain_and_htmx(client, everyone, team_b):
    alice = everyone["alice"]
    second = MembershipFactory(user=alice, team=team_b, role=Role.SALESPERSON)
    first = alice.memberships.get(team__name="Team A")
    client.force_login(everyone["admin"])

    htmx = client.post(
        reverse("settings-membership-remove", args=[second.pk]),
        {"back": "user"},
        HTTP_HX_REQUEST="true",
    )
    assert htmx.status_code == 200
    assert 'id="memberships"' in htmx.text and "<html" not in htmx.text
    plain = client.post(reverse("settings-membership-remove", args=[first.pk]))
    assert plain.status_code == 302
    assert not alice.memberships.exists()


# --- the last admin -----------------------------------------------------------------------


def test_the_last_admin_cannot_be_demoted_or_removed(client, everyone):
    admin = everyone["admin"]
    membership = admin.memberships.get()
    client.force_login(admin)
    before = state()
    demote = client.post(
        reverse("settings-membership-update", args=[membership.pk]), {"role": Role.MANAGER}
    )
    remove = client.post(reverse("settings-membership-remove", args=[membership.pk]))
    assert demote.status_code == remove.status_code == 400
    assert "at least one active admin" in demote.text
    assert state() == before


def test_an_admin_can_step_down_when_another_admin_remains(client, everyone, team_b):
    admin = everyone["admin"]
    Membership.objects.filter(user=everyone["carol"]).update(role=Role.ADMIN)
    client.force_login(admin)
    membership = admin.memberships.get()
    response = client.post(
        reverse("settings-membership-update", args=[membership.pk]), {"role": Role.MANAGER}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER


def test_an_inactive_admin_does_not_count_as_the_remaining_admin(client, everyone, team_b):
    carol = everyone["carol"]
    Membership.objects.filter(user=carol).update(role=Role.ADMIN)
    carol.is_active = False
    carol.save()
    admin = everyone["admin"]
    client.force_login(admin)
    before = state()
    response = client.post(reverse("settings-membership-remove", args=[admin.memberships.get().pk]))
    assert response.status_code == 400
    assert state() == before


def test_an_admin_cannot_deactivate_themselves(client, everyone):
    admin = everyone["admin"]
    client.force_login(admin)
    before = state()
    response = client.post(reverse("settings-user-deactivate", args=[admin.pk]))
    assert response.status_code == 400
    assert "You cannot deactivate yourself." in response.text
    assert state() == before


# --- deactivation and the handover --------------------------------------------------------


@pytest.fixture
def alice_book(everyone, stages_a):
    """Alice owns 3 open deals, 1 paused, 1 won; a company; an open activity on her deal and
    one on bob's deal."""
    alice, bob = everyone["alice"], everyone["bob"]
    open_deals = [DealFactory(stage=stages_a[i % 2], owner=alice) for i in range(3)]
    paused = DealFactory(stage=stages_a[0], owner=alice, status="paused", position=0)
    won = DealFactory(stage=stages_a[2], owner=alice, status="won", position=0)
    bobs = DealFactory(stage=stages_a[1], owner=bob)
    company = CompanyFactory(team=stages_a[0].pipeline.team, owner=alice)
    own_activity = Activity.objects.create(
        deal=open_deals[0], subject="Call back", due_date="2030-01-01", assignee=alice
    )
    Deal.objects.filter(pk=open_deals[0].pk).update(
        next_step=own_activity, next_step_assignee=alice
    )
    on_bobs = Activity.objects.create(
        deal=bobs, subject="Demo", due_date="2030-01-02", assignee=alice
    )
    return {
        "open": open_deals,
        "paused": paused,
        "won": won,
        "bobs": bobs,
        "company": company,
        "own_activity": own_activity,
        "on_bobs": on_bobs,
    }


def totals():
    return sorted(StageTotal.objects.values_list("stage_id", "currency", "count", "value"))


def test_deactivate_and_hand_over_to_a_team_mate(client, everyone, alice_book):
    alice, alex, admin = everyone["alice"], everyone["alex"], everyone["admin"]
    alice_client = client.__class__()
    alice_client.force_login(alice)
    stage_totals = totals()
    client.force_login(admin)
    page = client.get(reverse("settings-user-detail", args=[alice.pk]))
    assert "<strong>4 open or paused deals</strong> and <strong>1 company</strong>" in page.text
    assert f'<option value="{alex.pk}">' in page.text
    assert f'<option value="{everyone["carol"].pk}">' not in page.text  # not in team A

    response = client.post(
        reverse("settings-user-deactivate", args=[alice.pk]), {"reassign_to": alex.pk}
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    live = [*alice_book["open"], alice_book["paused"]]
    assert Deal.objects.filter(pk__in=[d.pk for d in live], owner=alex).count() == 4
    assert all(
        Deal.objects.get(pk=d.pk).version == d.version + 1 for d in live
    )  # stale edit forms cannot undo the handover
    assert Deal.objects.get(pk=alice_book["won"].pk).owner == alice  # history stays
    assert Company.objects.get(pk=alice_book["company"].pk).owner == alex
    assert Activity.objects.get(pk=alice_book["own_activity"].pk).assignee == alex
    assert Activity.objects.get(pk=alice_book["on_bobs"].pk).assignee == everyone["bob"]
    assert Deal.objects.get(pk=alice_book["open"][0].pk).next_step_assignee == alex
    assert totals() == stage_totals
    # Her session ends: the next request is sent to sign in.
    assert alice_client.get(reverse("home")).status_code == 302
    assert SESSION_KEY not in alice_client.session
    # She cannot sign in again, with the usual answer.
    alice_client.logout()
    again = alice_client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert "Please enter a correct username and password" in again.text


def test_deactivate_leaving_deals_unassigned(client, everyone, alice_book, team_a):
    alice, admin = everyone["alice"], everyone["admin"]
    team_a.own_deals_only = True
    team_a.save()
    client.force_login(admin)
    response = client.post(reverse("settings-user-deactivate", args=[alice.pk]), {})
    assert response.status_code == 302
    live_pks = [d.pk for d in [*alice_book["open"], alice_book["paused"]]]
    assert Deal.objects.filter(pk__in=live_pks, owner__isnull=True).count() == 4
    assert Company.objects.get(pk=alice_book["company"].pk).owner is None
    # Unassigned deals are visible to every salesperson of an "own deals only" team.
    alex = User.objects.get(pk=everyone["alex"].pk)
    assert set(live_pks) <= set(Deal.objects.visible_to(alex).values_list("pk", flat=True))


def test_handover_to_someone_outside_the_team_is_refused(client, everyone, alice_book):
    alice, carol = everyone["alice"], everyone["carol"]
    client.force_login(everyone["admin"])
    before = state()
    to_carol = client.post(
        reverse("settings-user-deactivate", args=[alice.pk]), {"reassign_to": carol.pk}
    )
    to_self = client.post(
        reverse("settings-user-deactivate", args=[alice.pk]), {"reassign_to": alice.pk}
    )
    to_ghost = client.post(
        reverse("settings-user-deactivate", args=[alice.pk]), {"reassign_to": 999_999}
    )
    for response in (to_carol, to_self, to_ghost):
        assert response.status_code == 400
    assert state() == before


def test_reactivate_restores_sign_in_and_keeps_teams(client, everyone):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    client.post(reverse("settings-user-deactivate", args=[alice.pk]), {})
    response = client.post(reverse("settings-user-reactivate", args=[alice.pk]))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.is_active
    assert alice.memberships.get().role == Role.SALESPERSON
    other = client.__class__()
    login = other.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert login.status_code == 302


def test_deactivating_twice_changes_nothing_the_second_time(client, everyone, alice_book):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    client.post(reverse("settings-user-deactivate", args=[alice.pk]), {})
    before = state()
    response = client.post(reverse("settings-user-deactivate", args=[alice.pk]), {})
    assert response.status_code == 302
    assert state() == before


def test_password_link_for_a_user_who_forgot(client, everyone):
    alice = everyone["alice"]
    client.force_login(everyone["admin"])
    response = client.post(reverse("settings-user-password-link", args=[alice.pk]))
    assert response.status_code == 200
    assert "/accounts/set-password/" in response.text
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)  # the old one works until a new one is chosen


def test_admin_role_in_any_team_is_organisation_wide(client, everyone, team_b, stages_b):
    carol = everyone["carol"]
    client.force_login(everyone["admin"])
    membership = carol.memberships.get()
    client.post(reverse("settings-membership-update", args=[membership.pk]), {"role": "admin"})
    carol = User.objects.get(pk=carol.pk)
    other_team_deal = DealFactory(stage=stages_b[0])
    assert Deal.objects.visible_to(carol).filter(pk=other_team_deal.pk).exists()
    fresh = client.__class__()
    fresh.force_login(carol)
    assert fresh.get(reverse("settings-users")).status_code == 200


def test_users_page_query_count_does_not_grow_with_users(
    client, everyone, team_b, django_assert_max_num_queries
):
    for _ in range(20):
        MembershipFactory(user=UserFactory(), team=team_b)
    client.force_login(everyone["admin"])
    # session, user, access memberships, users, their memberships+teams, + template context.
    with django_assert_max_num_queries(8):
        assert client.get(reverse("settings-users")).status_code == 200


def test_last_admin_refusal_answers_htmx_with_a_toast(client, everyone):
    admin = everyone["admin"]
    membership = admin.memberships.get()
    client.force_login(admin)
    before = state()
    response = client.post(
        reverse("settings-membership-update", args=[membership.pk]),
        {"role": Role.MANAGER, "back": "team"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#toasts"
    assert "at least one active admin" in response.text
    assert state() == before


def test_superusers_cannot_delete_people_in_the_django_admin(client, alice):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    response = client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert type(alice).objects.filter(pk=alice.pk).exists()
