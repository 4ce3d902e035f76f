"""Deal write paths: happy path, outsider 404, read-only 403, bad input 400 — each asserting
that nothing changed — for the htmx and the plain path."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pipeline.models import Deal, DealStatus, LostReason, StageChange
from tests.factories import DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def snapshot(deal):
    row = Deal.objects.get(pk=deal.pk)
    return (row.title, row.stage_id, row.position, row.status, row.version, row.owner_id, row.value)


@pytest.fixture
def deal(stages_a, alice):
    return DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")


@pytest.fixture
def other(stages_a, alice):
    return DealFactory(stage=stages_a[1], owner=alice, title="Racking")


# --- move -----------------------------------------------------------------------------------


def move(client, deal, stage, **extra):
    data = {"stage": stage.pk, "version": deal.version, **extra}
    return client.post(reverse("deal-move", args=[deal.pk]), data, **HTMX)


def test_drop_moves_the_card_and_answers_with_both_columns_and_totals(
    client, alice, deal, other, stages_a
):
    client.force_login(alice)
    response = move(client, deal, stages_a[1], after=other.pk, loaded=1, from_loaded=0)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == stages_a[1] and deal.version == 2
    html = response.content.decode()
    # Target column's cards as the main swap: Racking then Forklifts.
    assert html.index(f'id="deal-{other.pk}"') < html.index(f'id="deal-{deal.pk}"')
    # The source column already lost the card in the browser; only its header changes.
    assert f'id="stage-{stages_a[0].pk}-cards"' not in html
    assert f'id="stage-{stages_a[0].pk}-header" hx-swap-oob="outerHTML"' in html
    assert f'id="stage-{stages_a[1].pk}-header" hx-swap-oob="outerHTML"' in html
    assert StageChange.objects.filter(deal=deal, to_stage=stages_a[1]).count() == 1


def test_plain_move_form_redirects_to_the_deal(client, alice, deal, stages_a):
    client.force_login(alice)
    response = client.post(reverse("deal-move", args=[deal.pk]), {"stage": stages_a[2].pk})
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    deal.refresh_from_db()
    assert deal.stage == stages_a[2]


def test_manager_may_move_a_team_deal(client, bob, deal, stages_a):
    client.force_login(bob)
    assert move(client, deal, stages_a[3]).status_code == 200
    assert Deal.objects.get(pk=deal.pk).stage == stages_a[3]


def test_outsider_moving_gets_404_and_nothing_changes(client, carol, deal, stages_a):
    before = snapshot(deal)
    client.force_login(carol)
    assert move(client, deal, stages_a[1]).status_code == 404
    assert (
        client.post(reverse("deal-move", args=[deal.pk]), {"stage": stages_a[1].pk}).status_code
        == 404
    )
    assert snapshot(deal) == before


def test_colleague_moving_someone_elses_deal_gets_403_and_nothing_changes(
    client, alex, deal, stages_a
):
    before = snapshot(deal)
    client.force_login(alex)
    response = move(client, deal, stages_a[1])
    assert response.status_code == 403
    assert "only its owner, a manager or an admin" in response.content.decode()
    assert response["HX-Retarget"] == "#toasts"
    assert snapshot(deal) == before


@pytest.mark.parametrize(
    "data",
    [
        {"stage": "abc"},
        {"stage": ""},
        {"version": "-1"},
        {"after": "not-a-number"},
        {"loaded": "100000"},
        {"owner": "999999"},
    ],
)
def test_bad_move_input_is_400_and_nothing_changes(client, alice, deal, stages_a, data):
    before = snapshot(deal)
    client.force_login(alice)
    payload = {"stage": stages_a[1].pk, "version": deal.version, **data}
    response = client.post(reverse("deal-move", args=[deal.pk]), payload, **HTMX)
    assert response.status_code == 400
    assert snapshot(deal) == before


def test_stage_of_another_pipeline_is_400_and_nothing_changes(client, admin, deal, stages_b):
    before = snapshot(deal)
    client.force_login(admin)
    assert move(client, deal, stages_b[0]).status_code == 400
    assert snapshot(deal) == before


def test_stale_drop_is_409_and_nothing_changes(client, alice, deal, stages_a):
    client.force_login(alice)
    before = snapshot(deal)
    response = client.post(
        reverse("deal-move", args=[deal.pk]), {"stage": stages_a[2].pk, "version": 99}, **HTMX
    )
    assert response.status_code == 409
    assert "refreshed" in response.content.decode()
    assert snapshot(deal) == before


def test_move_of_a_closed_deal_is_refused(client, alice, deal, stages_a):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.WON)
    client.force_login(alice)
    response = move(client, deal, stages_a[1])
    assert response.status_code == 400
    assert Deal.objects.get(pk=deal.pk).stage == stages_a[0]


def test_get_on_move_is_not_allowed(client, alice, deal):
    client.force_login(alice)
    assert client.get(reverse("deal-move", args=[deal.pk])).status_code == 405


# --- create ---------------------------------------------------------------------------------


def test_quick_add_from_a_column(client, alice, stages_a):
    client.force_login(alice)
    url = reverse("deal-quick-create", args=[stages_a[0].pipeline_id, stages_a[0].pk])
    form = client.get(url, **HTMX)
    assert form.status_code == 200 and b'name="title"' in form.content
    response = client.post(
        url, {"title": "Cold storage", "value": "2500", "currency": "SEK"}, **HTMX
    )
    assert response.status_code == 200
    deal = Deal.objects.get(title="Cold storage")
    assert deal.stage == stages_a[0] and deal.owner == alice and deal.currency == "SEK"
    assert f'id="deal-{deal.pk}"' in response.content.decode()


def test_quick_add_with_bad_input_is_400_with_the_error_next_to_the_field(client, alice, stages_a):
    client.force_login(alice)
    url = reverse("deal-quick-create", args=[stages_a[0].pipeline_id, stages_a[0].pk])
    response = client.post(url, {"title": "", "value": "-5", "currency": "XXX"}, **HTMX)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not Deal.objects.exists()


def test_quick_add_into_another_teams_column_is_404(client, carol, stages_a):
    client.force_login(carol)
    url = reverse("deal-quick-create", args=[stages_a[0].pipeline_id, stages_a[0].pk])
    assert (
        client.post(url, {"title": "x", "value": "1", "currency": "EUR"}, **HTMX).status_code == 404
    )
    assert not Deal.objects.exists()


def test_full_create_form(client, bob, alex, stages_a):
    client.force_login(bob)
    url = reverse("deal-create", args=[stages_a[0].pipeline_id])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "title": "Big one",
            "stage": stages_a[2].pk,
            "owner": alex.pk,
            "value": "100000",
            "currency": "NOK",
        },
    )
    deal = Deal.objects.get(title="Big one")
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    assert deal.owner == alex and deal.stage == stages_a[2]


def test_full_create_rejects_a_stage_of_another_pipeline(client, admin, stages_a, stages_b):
    client.force_login(admin)
    url = reverse("deal-create", args=[stages_a[0].pipeline_id])
    response = client.post(
        url, {"title": "x", "stage": stages_b[0].pk, "value": "1", "currency": "EUR"}
    )
    assert response.status_code == 400 and not Deal.objects.exists()


def test_salesperson_form_has_no_owner_field(client, alice, stages_a):
    client.force_login(alice)
    html = client.get(reverse("deal-create", args=[stages_a[0].pipeline_id])).content.decode()
    assert 'name="owner"' not in html


# --- edit -----------------------------------------------------------------------------------


def edit(client, deal, **changes):
    data = {
        "title": deal.title,
        "value": deal.value,
        "currency": deal.currency,
        "version": deal.version,
    }
    data.update(changes)
    return client.post(reverse("deal-update", args=[deal.pk]), data)


def test_edit_saves_and_bumps_the_version(client, alice, deal):
    client.force_login(alice)
    response = edit(client, deal, title="Forklifts x 40", need_confirmed="on")
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.title == "Forklifts x 40" and deal.need_confirmed and deal.version == 2


def test_stale_edit_is_409_shows_both_versions_and_overwrites_nothing(client, alice, bob, deal):
    client.force_login(bob)
    edit(client, deal, title="Bob's title")
    client.force_login(alice)
    response = edit(client, deal, title="Alice's title")  # still carries version 1
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else saved this deal" in html
    assert "Bob&#x27;s title" in html and "Alice&#x27;s title" in html
    assert Deal.objects.get(pk=deal.pk).title == "Bob's title"


def test_stale_edit_form_never_moves_the_deal_back(client, alice, deal, stages_a):
    client.force_login(alice)
    move(client, deal, stages_a[2])
    edit(client, deal, title="Still here", version=2, stage=stages_a[0].pk)
    deal.refresh_from_db()
    assert deal.stage == stages_a[2] and deal.title == "Still here"


def test_outsider_edit_is_404_and_read_only_edit_is_403(client, carol, alex, deal):
    before = snapshot(deal)
    client.force_login(carol)
    assert edit(client, deal, title="hacked").status_code == 404
    assert client.get(deal.get_absolute_url()).status_code == 404
    client.force_login(alex)
    assert edit(client, deal, title="hacked").status_code == 403
    assert snapshot(deal) == before


def test_read_only_user_sees_the_deal_without_forms(client, alex, deal):
    client.force_login(alex)
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "Forklifts" in html and reverse("deal-update", args=[deal.pk]) not in html


def test_bad_edit_is_400_with_errors_and_nothing_changes(client, alice, deal):
    before = snapshot(deal)
    client.force_login(alice)
    response = edit(client, deal, title="", value="-1")
    assert response.status_code == 400 and b"errorlist" in response.content
    assert snapshot(deal) == before


def test_salesperson_cannot_reassign_by_posting_owner(client, alice, alex, deal):
    client.force_login(alice)
    edit(client, deal, owner=alex.pk, title="x")
    assert Deal.objects.get(pk=deal.pk).owner.username == "alice"


# --- won, lost, reopen, delete --------------------------------------------------------------


def test_won_from_the_card_removes_it_from_the_column(client, alice, deal, stages_a):
    client.force_login(alice)
    response = client.post(
        reverse("deal-won", args=[deal.pk]), {"version": 1, "from": "board"}, **HTMX
    )
    assert response.status_code == 200
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.WON
    html = response.content.decode()
    assert f'id="stage-{stages_a[0].pk}-cards" hx-swap-oob="innerHTML"' in html
    assert f'id="deal-{deal.pk}"' not in html
    assert "marked as won" in html


def test_lost_needs_a_reason(client, alice, deal):
    client.force_login(alice)
    url = reverse("deal-lost", args=[deal.pk])
    assert client.get(url, **HTMX).status_code == 200
    response = client.post(url, {"version": 1, "from": "board"}, **HTMX)
    assert response.status_code == 400 and b"errorlist" in response.content
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_lost_with_reason_records_the_stage(client, alice, deal, stages_a):
    reason = LostReason.objects.get(name="Price too high")
    client.force_login(alice)
    response = client.post(
        reverse("deal-lost", args=[deal.pk]),
        {"version": 1, "reason": reason.pk, "note": "20% over"},
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST and deal.lost_from_stage == stages_a[0]
    assert deal.lost_note == "20% over"


def test_reopen_puts_a_closed_deal_back(client, alice, deal):
    Deal.objects.filter(pk=deal.pk).update(status=DealStatus.WON, version=2)
    client.force_login(alice)
    response = client.post(reverse("deal-reopen", args=[deal.pk]), {"version": 2})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


@pytest.mark.parametrize("name", ["deal-won", "deal-lost", "deal-reopen", "deal-note-create"])
def test_outsider_404_and_read_only_403_on_status_changes(client, carol, alex, deal, name):
    before = snapshot(deal)
    reason = LostReason.objects.first()
    data = {"version": 1, "reason": reason.pk, "body": "x"}
    client.force_login(carol)
    assert client.post(reverse(name, args=[deal.pk]), data).status_code == 404
    client.force_login(alex)
    assert client.post(reverse(name, args=[deal.pk]), data).status_code == 403
    assert snapshot(deal) == before
    assert deal.notes.count() == 0


def test_stale_won_is_409(client, alice, deal):
    client.force_login(alice)
    response = client.post(reverse("deal-won", args=[deal.pk]), {"version": 5}, **HTMX)
    assert response.status_code == 409
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_bad_version_is_400(client, alice, deal):
    client.force_login(alice)
    assert client.post(reverse("deal-won", args=[deal.pk]), {"version": "x"}).status_code == 400
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.OPEN


def test_only_managers_delete(client, alice, bob, carol, deal):
    url = reverse("deal-delete", args=[deal.pk])
    client.force_login(carol)
    assert client.post(url).status_code == 404
    client.force_login(alice)
    assert client.post(url).status_code == 403
    assert Deal.objects.filter(pk=deal.pk).exists()
    client.force_login(bob)
    assert client.post(url).status_code == 302
    assert not Deal.objects.filter(pk=deal.pk).exists()


def test_notes_on_a_deal(client, alice, deal):
    client.force_login(alice)
    url = reverse("deal-note-create", args=[deal.pk])
    assert client.post(url, {"body": ""}).status_code == 400
    assert client.post(url, {"body": "x" * 5001}).status_code == 400
    assert deal.notes.count() == 0
    assert client.post(url, {"body": "Called <b>Anna</b>"}).status_code == 302
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "Called &lt;b&gt;Anna&lt;/b&gt;" in html
