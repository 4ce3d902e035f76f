"""/users: the people of the user's teams (everyone for an admin), and /users/me."""

from __future__ import annotations


def test_people_of_the_users_teams(world, api_as, alice, carol, admin):
    team_a = {"alice", "alex", "bob", "admin"}
    assert {u["username"] for u in api_as(alice).get("/users").json()["results"]} == team_a
    assert {u["username"] for u in api_as(carol).get("/users").json()["results"]} == {"carol"}
    assert len(api_as(admin).get("/users").json()["results"]) == 5
    assert api_as(carol).get(f"/users/{alice.pk}").status_code == 404


def test_me_says_who_and_what_role(world, api_as, admin):
    me = api_as(admin).get("/users/me").json()
    assert (me["username"], me["is_admin"]) == ("admin", True)
    assert "email" in me
    assert "email" not in api_as(admin).get(f"/users/{admin.pk}").json()


def test_people_are_read_only(world, api_as, admin):
    api = api_as(admin)
    assert api.post("/users", {"username": "x"}).status_code == 405
    assert api.patch(f"/users/{admin.pk}", {"first_name": "x"}).status_code == 405
