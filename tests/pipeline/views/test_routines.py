"""A stage's follow-up routines on its settings page (htmx and plain), and what they plan for
a deal moved on the board or the deal page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline import services
from pipeline.models import Activity, Deal, FollowUpRoutine, Stage
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def routines_of(stage):
    return list(
        FollowUpRoutine.objects.filter(stage=stage)
        .order_by("position", "pk")
        .values_list("subject", "kind", "due_in_days", "is_active")
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_admin_adds_edits_orders_and_removes_routines(signed_in, stages_a, htmx):
    stage = stages_a[2]
    extra = HTMX if htmx else {}
    create = reverse("settings-routine-create", args=[stage.pk])
    response = signed_in.post(
        create, {"subject": "Send a follow-up", "kind": "email", "due_in_days": 3}, **extra
    )
    if htmx:
        html = response.content.decode()
        assert response.status_code == 200 and f'id="stage-{stage.pk}-routines"' in html
        assert "Send a follow-up" in html and "after 3 working days" in html
    else:
        assert response.status_code == 302
        assert response["Location"] == reverse("settings-stage-update", args=[stage.pk])
    signed_in.post(create, {"subject": "Call", "kind": "call", "due_in_days": 0}, **extra)
    first, second = FollowUpRoutine.objects.filter(stage=stage).order_by("position")
    signed_in.post(
        reverse("settings-routine-update", args=[first.pk]),
        {
            f"r{first.pk}-subject": "Send the follow-up",
            f"r{first.pk}-kind": "email",
            f"r{first.pk}-due_in_days": "4",
        },  # no is_active: switched off
        **extra,
    )
    signed_in.post(reverse("settings-routine-move", args=[second.pk]), {"direction": "up"}, **extra)
    assert routines_of(stage) == [
        ("Call", "call", 0, True),
        ("Send the follow-up", "email", 4, False),
    ]
    signed_in.post(reverse("settings-routine-delete", args=[second.pk]), **extra)
    assert routines_of(stage) == [("Send the follow-up", "email", 4, False)]
    assert Stage.objects.get(pk=stage.pk).has_routines is False


def test_the_stage_edit_panel_and_row_show_routines(signed_in, stages_a):
    services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a summary", kind="email", due_in_days=1
    )
    html = signed_in.get(reverse("settings-stage-update", args=[stages_a[1].pk])).content.decode()
    assert "Follow-up routines" in html and "Send a summary" in html
    assert "after 1 working day" in html and 'name="subject"' in html
    page = signed_in.get(reverse("settings-pipeline", args=[stages_a[0].pipeline_id]))
    assert "1 routine" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subject": "", "kind": "call", "due_in_days": 1}, "Say what to do"),
        ({"subject": "x" * 201, "kind": "call", "due_in_days": 1}, "200 characters"),
        ({"subject": "Call", "kind": "fax", "due_in_days": 1}, "Pick a call, meeting, email"),
        ({"subject": "Call", "kind": "call", "due_in_days": 61}, "from 0 to 60"),
        ({"subject": "Call", "kind": "call", "due_in_days": -1}, "from 0 to 60"),
        ({"subject": "Call", "kind": "call", "due_in_days": "soon"}, "from 0 to 60"),
        ({"subject": "Call", "kind": "call"}, "after how many working days"),
        ({"subject": "send a follow-up", "kind": "call", "due_in_days": 3}, "already plans"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_bad_routines_are_400_with_a_clear_message(signed_in, stages_a, data, message, htmx):
    services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a follow-up", kind="email", due_in_days=3
    )
    before = routines_of(stages_a[1])
    response = signed_in.post(
        reverse("settings-routine-create", args=[stages_a[1].pk]), data, **(HTMX if htmx else {})
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert routines_of(stages_a[1]) == before


@pytest.mark.parametrize(
    "data",
    [
        {"subject": "", "kind": "call", "due_in_days": "1"},
        {"subject": "Call", "kind": "call", "due_in_days": "99"},
        {"subject": "Call", "kind": "<script>", "due_in_days": "1"},
    ],
)
def test_a_bad_routine_edit_is_refused_and_changes_nothing(signed_in, stages_a, data):
    made = services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a follow-up", kind="email", due_in_days=3
    )
    before = routines_of(stages_a[1])
    body = {f"r{made.pk}-{key}": value for key, value in data.items()}
    response = signed_in.post(reverse("settings-routine-update", args=[made.pk]), body, **HTMX)
    assert response.status_code == 400
    assert "<script>" not in response.content.decode()
    assert routines_of(stages_a[1]) == before


def test_a_bad_direction_is_400(signed_in, stages_a):
    made = services.routine_create(
        acting_user=None, stage=stages_a[1], subject="A", kind="email", due_in_days=3
    )
    response = signed_in.post(
        reverse("settings-routine-move", args=[made.pk]), {"direction": "sideways"}
    )
    assert response.status_code == 400


def test_routines_of_a_removed_stage_are_404(signed_in, admin, stages_a):
    made = services.routine_create(
        acting_user=None, stage=stages_a[1], subject="A", kind="email", due_in_days=3
    )
    DealFactory(stage=stages_a[1])
    services.stage_delete(acting_user=admin, stage=stages_a[1], move_deals_to=stages_a[0])
    before = routines_of(stages_a[1])
    response = signed_in.post(reverse("settings-routine-delete", args=[made.pk]))
    assert response.status_code == 404
    assert routines_of(stages_a[1]) == before


# --- what a salesperson sees ----------------------------------------------------------------


def test_a_drag_answers_with_the_card_showing_the_routines_next_step(client, alice, stages_a):
    services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a summary", kind="email", due_in_days=1
    )
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"stage": stages_a[1].pk, "version": deal.version, "loaded": 1},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Send a summary" in response.content.decode()
    assert Deal.objects.get(pk=deal.pk).next_step_subject == "Send a summary"


def test_the_deal_pages_move_form_plans_routines_and_the_page_says_where_they_came_from(
    client, alice, stages_a
):
    services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a summary", kind="email", due_in_days=1
    )
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    response = client.post(reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk})
    assert response.status_code == 302
    assert Activity.objects.filter(deal=deal, stage_change__isnull=False).count() == 1
    html = client.get(reverse("deal-detail", args=[deal.pk])).content.decode()
    assert "Send a summary" in html and "Follow-up routine" in html


def test_a_refused_move_plans_nothing(client, alex, alice, stages_a):
    """alex may see alice's deal but not move it: 403, no activity."""
    services.routine_create(
        acting_user=None, stage=stages_a[1], subject="Send a summary", kind="email", due_in_days=1
    )
    deal = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alex)
    response = client.post(
        reverse("deal-move", args=[deal.pk]),
        {"stage": stages_a[1].pk, "version": deal.version},
        **HTMX,
    )
    assert response.status_code == 403
    assert not Activity.objects.filter(deal=deal).exists()


def test_routines_add_two_queries_to_a_drag_and_none_without_them(client, alice, stages_a):
    """Measured against the same drag into a stage without routines, so the pin holds whatever
    the drag itself costs: the routines' SELECT and the activities' INSERT (the deal's next
    step goes with the move's own UPDATE); a stage without routines adds nothing (its
    `has_routines` is on the locked row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.routine_create(
        acting_user=None, stage=stages_a[2], subject="One", kind="email", due_in_days=1
    )
    services.routine_create(
        acting_user=None, stage=stages_a[2], subject="Two", kind="call", due_in_days=3
    )
    plain = DealFactory(stage=stages_a[0], owner=alice)
    planned = DealFactory(stage=stages_a[0], owner=alice)
    client.force_login(alice)
    client.get(reverse("board", args=[stages_a[0].pipeline_id]))  # exchange rates: once a minute

    def drag(deal, stage):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                reverse("deal-move", args=[deal.pk]),
                {"stage": stage.pk, "version": deal.version, "loaded": 1},
                **HTMX,
            )
        assert response.status_code == 200
        return len(queries)

    without = drag(plain, stages_a[1])
    with_routines = drag(planned, stages_a[2])
    assert with_routines - without == 2
    assert Activity.objects.filter(deal=planned).count() == 2
    planned.refresh_from_db()
    assert planned.next_step.subject == "One" and planned.next_step_subject == "One"
