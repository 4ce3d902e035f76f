"""The access rule on its own (`accounts.access`): plain values in, no database."""

from __future__ import annotations

from accounts.access import Access

REPS = {1, 2, 3}


def test_an_admin_sets_everyones_numbers():
    access = Access(user_id=9, is_admin=True)
    assert access.editable_rep_ids(REPS) == REPS
    assert not access.manages_some_teams_only


def test_a_manager_of_every_team_they_are_in_sets_every_visible_reps_numbers():
    access = Access(user_id=9, team_ids=frozenset({10, 11}), managed_team_ids=frozenset({10, 11}))
    assert not access.manages_some_teams_only
    assert access.editable_rep_ids(REPS) == REPS


def test_a_manager_who_also_sells_elsewhere_sets_only_their_teams_members_numbers():
    access = Access(user_id=9, team_ids=frozenset({10, 11}), managed_team_ids=frozenset({10}))
    assert access.manages_some_teams_only
    assert access.editable_rep_ids(REPS, managed_member_ids={2, 3, 4}) == {2, 3}
    assert access.editable_rep_ids(REPS) == set()


def test_a_salesperson_sets_nobodys_numbers():
    access = Access(user_id=9, team_ids=frozenset({10}))
    assert not access.manages_some_teams_only
    assert access.editable_rep_ids(REPS, managed_member_ids=REPS) == set()
