"""Two admins demoting each other at the same moment: one wins, one admin remains."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts import services
from accounts.models import Membership, Role, User
from tests.conftest import requires_postgres
from tests.factories import MembershipFactory, TeamFactory, UserFactory


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["demote", "remove"])
def test_two_admins_removing_each_other_leave_one_admin(action):
    team = TeamFactory(name="Head office")
    first = UserFactory(username="first")
    second = UserFactory(username="second")
    memberships = {
        first.pk: MembershipFactory(user=first, team=team, role=Role.ADMIN),
        second.pk: MembershipFactory(user=second, team=team, role=Role.ADMIN),
    }
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(acting: User, target: User):
        try:
            barrier.wait()
            if action == "demote":
                services.membership_set(
                    acting_user=acting, user=target, team=team, role=Role.MANAGER
                )
            else:
                services.membership_remove(acting_user=acting, membership=memberships[target.pk])
            outcomes.append("done")
        except services.UserRuleError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(first, second)),
        threading.Thread(target=run, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["done", "refused"]
    assert Membership.objects.filter(role=Role.ADMIN).count() == 1
