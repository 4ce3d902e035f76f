"""Every settings URL, for every role: admins get in, everyone else signed in gets 403 with
nothing changed, anonymous visitors go to the login page, and unknown ids answer 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline.models import (
    Activity,
    ExitCriterion,
    FollowUpRoutine,
    LostReason,
    Pipeline,
    ProductArea,
    Stage,
)
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def things(stages_a):
    criterion = ExitCriterion.objects.create(stage=stages_a[0], text="Need confirmed")
    reason = LostReason.objects.create(name="Went quiet", position=50)
    area = ProductArea.objects.create(name="Racking")
    routine = FollowUpRoutine.objects.create(stage=stages_a[1], subject="Send a follow-up")
    DealFactory(stage=stages_a[1])
    return {
        "routine": routine.pk,
        "pipeline": stages_a[0].pipeline.pk,
        "stage": stages_a[1].pk,
        "criterion": criterion.pk,
        "reason": reason.pk,
        "area": area.pk,
    }


# (URL name, kind of id it takes or None, methods, a valid POST body)
URLS = [
    ("settings-home", None, ["get"], {}),
    ("settings-pipelines", None, ["get", "post"], {"name": "Key accounts", "team": "TEAM"}),
    ("settings-pipeline", "pipeline", ["get"], {}),
    ("settings-pipeline-update", "pipeline", ["post"], {"name": "Renamed", "team": "TEAM"}),
    ("settings-pipeline-archive", "pipeline", ["post"], {}),
    ("settings-pipeline-unarchive", "pipeline", ["post"], {}),
    (
        "settings-stage-create",
        "pipeline",
        ["post"],
        {"name": "Won-ish", "probability": 90, "rot_days": 5},
    ),
    ("settings-stage-reorder", "pipeline", ["post"], {"order": []}),
    ("settings-stage-row", "stage", ["get"], {}),
    (
        "settings-stage-update",
        "stage",
        ["get", "post"],
        {"name": "Renamed", "probability": 5, "rot_days": 3},
    ),
    ("settings-stage-move", "stage", ["post"], {"direction": "up"}),
    ("settings-stage-delete", "stage", ["get", "post"], {}),
    ("settings-criterion-create", "stage", ["post"], {"text": "Budget known", "is_required": "1"}),
    ("settings-criterion-update", "criterion", ["post"], {}),
    ("settings-criterion-delete", "criterion", ["post"], {}),
    ("settings-criterion-move", "criterion", ["post"], {"direction": "down"}),
    (
        "settings-routine-create",
        "stage",
        ["post"],
        {"subject": "Call back", "kind": "call", "due_in_days": 2},
    ),
    ("settings-routine-update", "routine", ["post"], {}),
    ("settings-routine-delete", "routine", ["post"], {}),
    ("settings-routine-move", "routine", ["post"], {"direction": "down"}),
    (
        "settings-pipeline-from-template",
        None,
        ["get", "post"],
        {"template": "b2b-service", "team": "TEAM", "name": "From a template"},
    ),
    ("settings-lost-reasons", None, ["get", "post"], {"name": "Timing"}),
    ("settings-lost-reason-reorder", None, ["post"], {"order": []}),
    ("settings-lost-reason-update", "reason", ["post"], {}),
    ("settings-lost-reason-move", "reason", ["post"], {"direction": "up"}),
    ("settings-lost-reason-retire", "reason", ["post"], {}),
    ("settings-lost-reason-restore", "reason", ["post"], {}),
    ("settings-product-areas", None, ["get", "post"], {"name": "Forklifts"}),
    ("settings-product-area-reorder", None, ["post"], {"order": []}),
    ("settings-product-area-update", "area", ["post"], {}),
    ("settings-product-area-move", "area", ["post"], {"direction": "up"}),
    ("settings-product-area-retire", "area", ["post"], {}),
    ("settings-product-area-restore", "area", ["post"], {}),
]
CASES = [(name, kind, method, data) for name, kind, methods, data in URLS for method in methods]
IDS = [f"{method}-{name}" for name, _kind, method, _data in CASES]


def snapshot():
    """Everything the settings pages can change."""
    return (
        list(Pipeline.objects.values_list("pk", "name", "team_id", "is_archived", "position")),
        list(Stage.objects.values_list("pk", "name", "position", "probability", "rot_days")),
        list(Stage.objects.values_list("pk", "is_archived")),
        list(ExitCriterion.objects.values_list("pk", "text", "is_required", "position")),
        list(
            FollowUpRoutine.objects.values_list(
                "pk", "subject", "kind", "due_in_days", "is_active", "position"
            )
        ),
        list(Stage.objects.values_list("pk", "has_routines")),
        Activity.objects.count(),
        list(LostReason.objects.values_list("pk", "name", "position", "is_active")),
        list(ProductArea.objects.values_list("pk", "name", "position", "is_active")),
    )


def _url(name, kind, things, *, missing=False):
    if kind is None:
        return reverse(name)
    return reverse(name, args=[999_999 if missing else things[kind]])


def _body(data, team):
    return {k: (team.pk if v == "TEAM" else v) for k, v in data.items()}


@pytest.mark.parametrize(("name", "kind", "method", "data"), CASES, ids=IDS)
@pytest.mark.parametrize("persona", ["alice", "bob", "alex", "carol"])
def test_non_admins_get_403_and_nothing_changes(
    client, request, things, team_a, persona, name, kind, method, data
):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    before = snapshot()
    url = _url(name, kind, things)
    response = getattr(client, method)(url, _body(data, team_a))
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(("name", "kind", "method", "data"), CASES, ids=IDS)
def test_non_admins_get_403_from_htmx_too(client, alice, things, team_a, name, kind, method, data):
    client.force_login(alice)
    before = snapshot()
    response = getattr(client, method)(
        _url(name, kind, things), _body(data, team_a), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(("name", "kind", "method", "data"), CASES, ids=IDS)
def test_anonymous_is_sent_to_login(client, things, team_a, name, kind, method, data):
    before = snapshot()
    response = getattr(client, method)(_url(name, kind, things), _body(data, team_a))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert snapshot() == before


ID_CASES = [case for case in CASES if case[1] is not None]


@pytest.mark.parametrize(
    ("name", "kind", "method", "data"),
    ID_CASES,
    ids=[f"{m}-{n}" for n, _k, m, _d in ID_CASES],
)
def test_unknown_ids_are_404_for_admins(client, admin, things, team_a, name, kind, method, data):
    client.force_login(admin)
    before = snapshot()
    response = getattr(client, method)(_url(name, kind, things, missing=True), _body(data, team_a))
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "kind", "method"),
    [(n, k, m) for n, k, m, _d in CASES if m == "get"],
)
def test_admins_get_in(client, admin, things, name, kind, method):
    client.force_login(admin)
    response = client.get(_url(name, kind, things), follow=True)
    assert response.status_code == 200


def test_a_removed_stage_is_404(client, admin, stages_a):
    DealFactory(stage=stages_a[1])
    from pipeline import services

    services.stage_delete(acting_user=admin, stage=stages_a[1], move_deals_to=stages_a[0])
    client.force_login(admin)
    assert client.get(reverse("settings-stage-update", args=[stages_a[1].pk])).status_code == 404
    response = client.post(
        reverse("settings-stage-move", args=[stages_a[1].pk]), {"direction": "up"}
    )
    assert response.status_code == 404


def test_settings_link_shows_for_admins_only(client, admin, alice, stages_a):
    client.force_login(admin)
    assert (
        reverse("settings-home")
        in client.get(reverse("board", args=[stages_a[0].pipeline.pk])).content.decode()
    )
    client.force_login(alice)
    assert (
        reverse("settings-home")
        not in client.get(reverse("board", args=[stages_a[0].pipeline.pk])).content.decode()
    )
