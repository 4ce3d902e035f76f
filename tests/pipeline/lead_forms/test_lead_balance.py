"""The lead balance page: who may see it (managers of the team, admins), its figures (new leads
per ISO week by salesperson and by source, open deals against capacity, the flags), and the
capacity set in place, with every refusal changing nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from crm.organisation import organisation_zone
from pipeline.models import Deal, RepCapacity
from pipeline.selectors.lead_balance import (
    BALANCED,
    NO_CAPACITY,
    TOO_FEW,
    TOO_MANY,
    capacity_status,
    lead_balance_for_team,
    week_starts,
)
from tests.factories import DealFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = date(2027, 3, 10)  # a Wednesday in ISO week 10


def created(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour), organisation_zone())


def capacities():
    return sorted(RepCapacity.objects.values_list("team_id", "user_id", "open_deals"))


# --- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("open_deals", "capacity", "status"),
    [
        (10, None, NO_CAPACITY),
        (11, 10, TOO_MANY),
        (10, 10, BALANCED),
        (6, 10, BALANCED),
        (5, 10, TOO_FEW),
        (0, 0, BALANCED),
        (1, 0, TOO_MANY),
    ],
)
def test_too_many_above_capacity_too_few_under_60_percent(open_deals, capacity, status):
    assert capacity_status(open_deals, capacity) == status


def test_the_weeks_are_the_last_eight_iso_weeks_ending_with_this_one():
    weeks = week_starts(TODAY)
    assert len(weeks) == 8 and weeks[-1] == date(2027, 3, 8) and weeks[0] == date(2027, 1, 18)
    assert all(w.weekday() == 0 for w in weeks)


# --- the figures -----------------------------------------------------------------------------


def test_new_leads_per_week_per_rep_and_per_source(bob, alice, alex, stages_a, stages_b, carol):
    lead_in = stages_a[0]
    for day, owner, source in [
        (date(2027, 3, 8), alice, "Website form: Contact us"),  # Monday of this week
        (date(2027, 3, 14), alice, "Website form: Contact us"),  # its Sunday
        (date(2027, 3, 7), alex, "Website form: Contact us"),  # Sunday of last week
        (date(2027, 3, 1), None, "Website form: Contact us"),
        (date(2027, 2, 3), alex, ""),
        (date(2027, 1, 10), alice, ""),  # before the eight weeks
    ]:
        DealFactory(stage=lead_in, owner=owner, source=source, created_at=created(day))
    DealFactory(stage=stages_b[0], owner=carol, created_at=created(date(2027, 3, 9)))  # team B
    Deal.objects.filter(owner=alex, source="").update(status="lost")
    RepCapacity.objects.create(team=lead_in.pipeline.team, user=alice, open_deals=2)
    RepCapacity.objects.create(team=lead_in.pipeline.team, user=alex, open_deals=10)

    balance = lead_balance_for_team(user=bob, team=lead_in.pipeline.team, today=TODAY)

    rows = {rep.user.username: rep for rep in balance.reps}
    assert list(rows) == ["alex", "alice"]  # salespeople by name; bob sells nothing here
    assert rows["alice"].weeks == [0, 0, 0, 0, 0, 0, 0, 2]
    assert rows["alex"].weeks == [0, 0, 1, 0, 0, 0, 1, 0]
    assert (rows["alice"].open_deals, rows["alice"].capacity, rows["alice"].status) == (
        3,
        2,
        TOO_MANY,
    )
    assert (rows["alex"].open_deals, rows["alex"].load, rows["alex"].status) == (1, 10, TOO_FEW)
    assert balance.unassigned.weeks == [0, 0, 0, 0, 0, 0, 1, 0]
    assert balance.unassigned.open_deals == 1
    sources = {s.label: s.weeks for s in balance.sources}
    assert sources == {
        "Website form: Contact us": [0, 0, 0, 0, 0, 0, 2, 2],
        "": [0, 0, 1, 0, 0, 0, 0, 0],
    }
    assert balance.week_totals == [0, 0, 1, 0, 0, 0, 2, 2] and balance.total == 5
    assert [rep.user.username for rep in balance.flagged] == ["alex", "alice"]


def test_a_manager_who_sells_is_a_row_too(bob, alice, stages_a):
    DealFactory(stage=stages_a[0], owner=bob, created_at=created(TODAY))
    balance = lead_balance_for_team(user=bob, team=stages_a[0].pipeline.team, today=TODAY)
    assert [(r.user.username, r.is_salesperson) for r in balance.reps] == [
        ("alice", True),
        ("bob", False),
    ]


def test_the_page_costs_a_fixed_number_of_queries(client, bob, alice, alex, stages_a):
    client.force_login(bob)
    url = reverse("lead-balance")

    def count() -> int:
        client.get(url)  # warm
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    DealFactory(stage=stages_a[0], owner=alice, source="Website form: A")
    few = count()
    for i in range(30):
        DealFactory(stage=stages_a[i % 4], owner=[alice, alex, None][i % 3], source=f"S{i % 5}")
    # session, user, memberships (access), teams, team, pipelines, new deals, open deals,
    # members, capacities
    assert count() == few <= 11


# --- who sees it -----------------------------------------------------------------------------


def test_salespeople_get_403(client, alice, carol, stages_a):
    for user in (alice, carol):
        client.force_login(user)
        assert client.get(reverse("lead-balance")).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("lead-balance"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_manager_sees_their_team_and_another_team_is_404(client, bob, team_a, team_b):
    client.force_login(bob)
    response = client.get(reverse("lead-balance"))
    assert response.status_code == 200
    assert response.context["balance"].team == team_a
    assert client.get(reverse("lead-balance") + f"?team={team_b.pk}").status_code == 404
    assert client.get(reverse("lead-balance") + "?team=999999").status_code == 404
    assert client.get(reverse("lead-balance") + "?team=abc").status_code == 400


def test_an_admin_sees_every_team(client, admin, team_a, team_b, carol):
    client.force_login(admin)
    response = client.get(reverse("lead-balance") + f"?team={team_b.pk}")
    assert response.status_code == 200
    assert [r.user for r in response.context["balance"].reps] == [carol]
    assert "Team A" in response.content.decode()  # the team switcher


def test_the_nav_shows_the_page_to_managers_and_admins_only(client, alice, bob, admin):
    for user, shown in ((alice, False), (bob, True), (admin, True)):
        client.force_login(user)
        body = client.get(reverse("my-next-steps")).content.decode()
        assert (f'href="{reverse("lead-balance")}"' in body) is shown, user


# --- setting a capacity ----------------------------------------------------------------------


def test_a_manager_sets_a_capacity_in_place(client, bob, alice, team_a, stages_a):
    DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(bob)
    body = {"team": team_a.pk, "user": alice.pk, "open_deals": "4"}
    response = client.post(reverse("lead-balance-capacity"), body, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="rep-{alice.pk}"')
    assert "Too few" in html and "25%" in html and "Saved" in html
    assert capacities() == [(team_a.pk, alice.pk, 4)]
    assert RepCapacity.objects.get().set_by == bob


def test_the_plain_form_redirects_and_an_empty_value_removes_it(client, bob, alice, team_a):
    RepCapacity.objects.create(team=team_a, user=alice, open_deals=9)
    client.force_login(bob)
    body = {"team": team_a.pk, "user": alice.pk, "open_deals": ""}
    response = client.post(reverse("lead-balance-capacity"), body)
    assert response.status_code == 302
    assert response["Location"] == reverse("lead-balance") + f"?team={team_a.pk}"
    assert capacities() == []


def test_an_admin_sets_any_teams_capacity(client, admin, carol, team_b):
    client.force_login(admin)
    body = {"team": team_b.pk, "user": carol.pk, "open_deals": "12"}
    assert client.post(reverse("lead-balance-capacity"), body).status_code == 302
    assert capacities() == [(team_b.pk, carol.pk, 12)]


@pytest.mark.parametrize("persona", ["alice", "alex", "carol"])
def test_salespeople_cannot_set_capacities(client, request, persona, team_a, alice):
    RepCapacity.objects.create(team=team_a, user=alice, open_deals=9)
    client.force_login(request.getfixturevalue(persona))
    before = capacities()
    body = {"team": team_a.pk, "user": alice.pk, "open_deals": "50"}
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        assert client.post(reverse("lead-balance-capacity"), body, **headers).status_code == 403
    assert capacities() == before


def test_another_teams_ids_are_404_and_change_nothing(client, bob, alice, carol, team_a, team_b):
    client.force_login(bob)
    before = capacities()
    for body in (
        {"team": team_b.pk, "user": carol.pk, "open_deals": "3"},  # another team
        {"team": team_a.pk, "user": carol.pk, "open_deals": "3"},  # a person of another team
        {"team": 999_999, "user": alice.pk, "open_deals": "3"},
    ):
        assert client.post(reverse("lead-balance-capacity"), body).status_code == 404
    assert capacities() == before


@pytest.mark.parametrize("open_deals", ["-1", "1001", "ten", "1.5", "9" * 30])
def test_bad_capacities_are_400_and_change_nothing(client, bob, alice, team_a, open_deals):
    client.force_login(bob)
    body = {"team": team_a.pk, "user": alice.pk, "open_deals": open_deals}
    assert client.post(reverse("lead-balance-capacity"), body).status_code == 400
    assert capacities() == []


def test_a_manager_of_two_teams_sets_only_the_managed_ones(client, alice, team_a, team_b, carol):
    mixed = UserFactory(username="mixed")
    MembershipFactory(user=mixed, team=team_a, role=Role.SALESPERSON)
    MembershipFactory(user=mixed, team=team_b, role=Role.MANAGER)
    client.force_login(mixed)
    ok = {"team": team_b.pk, "user": carol.pk, "open_deals": "5"}
    assert client.post(reverse("lead-balance-capacity"), ok).status_code == 302
    not_managed = {"team": team_a.pk, "user": alice.pk, "open_deals": "5"}
    assert client.post(reverse("lead-balance-capacity"), not_managed).status_code == 404
    assert capacities() == [(team_b.pk, carol.pk, 5)]


def test_the_same_capacity_again_writes_nothing(bob, alice, team_a):
    from pipeline import services

    first = services.rep_capacity_set(acting_user=bob, team=team_a, user=alice, open_deals=7)
    stamp = first.updated_at
    again = services.rep_capacity_set(acting_user=bob, team=team_a, user=alice, open_deals=7)
    assert again.updated_at == stamp and Decimal(again.open_deals) == 7


def test_week_of_a_deal_created_late_sunday_is_the_organisations(bob, alice, stages_a):
    late_sunday = created(date(2027, 3, 7), hour=23) + timedelta(minutes=30)
    DealFactory(stage=stages_a[0], owner=alice, created_at=late_sunday)
    balance = lead_balance_for_team(user=bob, team=stages_a[0].pipeline.team, today=TODAY)
    assert balance.reps[0].weeks[-2:] == [1, 0]
