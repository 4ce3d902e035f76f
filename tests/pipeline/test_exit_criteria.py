"""Exit criteria: a forward move must meet the required criteria of every stage it leaves, on
every path (the service, a drop, the board's dialog, the deal page's form, a crafted POST),
and the ticks are recorded on the deal with who and when."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline import services
from pipeline.models import DealCriterionCheck, DealStatus, ExitCriterion, StageChange
from tests.factories import DealFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def criteria(stages_a):
    """Lead in: one required, one advisory. Qualified: one required. Proposal: none."""
    lead, qualified = stages_a[0], stages_a[1]
    return {
        "need": ExitCriterion.objects.create(
            stage=lead, text="Customer confirmed the need", is_required=True, position=0
        ),
        "budget": ExitCriterion.objects.create(
            stage=lead, text="Budget range discussed", is_required=False, position=1
        ),
        "decider": ExitCriterion.objects.create(
            stage=qualified, text="Decision maker identified", is_required=True, position=0
        ),
    }


@pytest.fixture
def deal(stages_a, alice):
    return DealFactory(stage=stages_a[0], owner=alice, title="Forklifts")


def state(deal):
    deal.refresh_from_db()
    return (
        deal.stage_id,
        deal.position,
        deal.version,
        StageChange.objects.filter(deal=deal).count(),
        DealCriterionCheck.objects.filter(deal=deal).count(),
    )


# --- the service ----------------------------------------------------------------------------


def test_required_criterion_unticked_refuses_the_move_and_changes_nothing(
    alice, deal, stages_a, criteria
):
    before = state(deal)
    with pytest.raises(services.ExitCriteriaUnmet) as refused:
        services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    assert "Customer confirmed the need" in str(refused.value)
    assert "Budget range" not in str(refused.value)  # advisory ones do not block
    assert state(deal) == before


def test_ticked_required_criterion_lets_the_move_through_and_records_who_and_when(
    alice, deal, stages_a, criteria
):
    services.deal_move(
        acting_user=alice,
        deal=deal,
        stage_id=stages_a[1].pk,
        version=1,
        criteria=[criteria["need"].pk],
    )
    deal.refresh_from_db()
    assert deal.stage == stages_a[1]
    check = DealCriterionCheck.objects.get(deal=deal)
    assert check.criterion == criteria["need"] and check.stage == stages_a[0]
    assert check.text == "Customer confirmed the need" and check.checked_by == alice
    assert check.checked_at is not None


def test_ticking_only_some_required_criteria_refuses_the_move_and_records_none(
    alice, deal, stages_a, criteria
):
    """Skipping Qualified: "need" ticked, "decider" neither recorded nor ticked. The lock's
    own reads must see the gap, so nothing is recorded, not even the ticked one."""
    before = state(deal)
    with pytest.raises(services.ExitCriteriaUnmet) as refused:
        services.deal_move(
            acting_user=alice,
            deal=deal,
            stage_id=stages_a[2].pk,
            version=1,
            criteria=[criteria["need"].pk, criteria["budget"].pk],
        )
    assert "Decision maker identified" in str(refused.value)
    assert "Customer confirmed the need" not in str(refused.value)
    assert state(deal) == before


def test_ticking_every_criterion_when_skipping_records_each_once(alice, deal, stages_a, criteria):
    ticked = [criteria["need"].pk, criteria["budget"].pk, criteria["decider"].pk]
    services.deal_move(
        acting_user=alice,
        deal=deal,
        stage_id=stages_a[2].pk,
        version=1,
        criteria=[*ticked, criteria["need"].pk],  # a repeated id counts once
    )
    deal.refresh_from_db()
    assert deal.stage == stages_a[2]
    checks = DealCriterionCheck.objects.filter(deal=deal).order_by("criterion_id")
    assert [c.criterion_id for c in checks] == sorted(ticked)
    assert {c.stage_id for c in checks} == {stages_a[0].pk, stages_a[1].pk}
    assert all(c.checked_by == alice and c.checked_at is not None for c in checks)


def test_advisory_criterion_may_stay_unticked(alice, deal, stages_a, criteria):
    criteria["need"].is_required = False
    criteria["need"].save()
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=1)
    deal.refresh_from_db()
    assert deal.stage == stages_a[1]
    assert not DealCriterionCheck.objects.filter(deal=deal).exists()


def test_skipping_stages_needs_the_criteria_of_every_stage_left(alice, deal, stages_a, criteria):
    before = state(deal)
    with pytest.raises(services.ExitCriteriaUnmet) as refused:
        services.deal_move(
            acting_user=alice,
            deal=deal,
            stage_id=stages_a[2].pk,
            version=1,
            criteria=[criteria["need"].pk],
        )
    assert "Decision maker identified" in str(refused.value)
    assert state(deal) == before
    services.deal_move(
        acting_user=alice,
        deal=deal,
        stage_id=stages_a[2].pk,
        version=1,
        criteria=[criteria["need"].pk, criteria["decider"].pk, criteria["budget"].pk],
    )
    deal.refresh_from_db()
    assert deal.stage == stages_a[2]
    assert DealCriterionCheck.objects.filter(deal=deal).count() == 3


def test_recorded_criteria_count_when_the_deal_moves_forward_again(alice, deal, stages_a, criteria):
    services.deal_move(
        acting_user=alice,
        deal=deal,
        stage_id=stages_a[1].pk,
        version=1,
        criteria=[criteria["need"].pk],
    )
    deal.refresh_from_db()
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[0].pk, version=2)
    deal.refresh_from_db()
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=3)
    deal.refresh_from_db()
    assert deal.stage == stages_a[1] and deal.version == 4
    assert DealCriterionCheck.objects.filter(deal=deal).count() == 1


def test_ticking_a_recorded_criterion_again_changes_nothing(alice, deal, stages_a, criteria):
    DealCriterionCheck.objects.create(
        deal=deal, criterion=criteria["need"], stage=stages_a[0], text="x", checked_by=alice
    )
    services.deal_move(
        acting_user=alice,
        deal=deal,
        stage_id=stages_a[1].pk,
        version=1,
        criteria=[criteria["need"].pk],
    )
    assert DealCriterionCheck.objects.filter(deal=deal).count() == 1


def test_backward_moves_and_reorders_need_no_criteria(alice, stages_a, criteria):
    later = DealFactory(stage=stages_a[1], owner=alice)
    other = DealFactory(stage=stages_a[0], owner=alice)
    services.deal_move(acting_user=alice, deal=later, stage_id=stages_a[0].pk, version=1)
    later.refresh_from_db()
    services.deal_move(
        acting_user=alice, deal=later, stage_id=stages_a[0].pk, version=2, after_id=other.pk
    )
    later.refresh_from_db()
    assert later.stage == stages_a[0] and later.version == 3


def test_ticked_criteria_of_a_stage_not_being_left_are_refused(alice, deal, stages_a, criteria):
    before = state(deal)
    # "Decision maker identified" belongs to Qualified: a move into Qualified does not leave it.
    with pytest.raises(services.ExitCriteriaInvalid):
        services.deal_move(
            acting_user=alice,
            deal=deal,
            stage_id=stages_a[1].pk,
            version=1,
            criteria=[criteria["need"].pk, criteria["decider"].pk],
        )
    assert state(deal) == before


def test_criteria_of_another_pipeline_are_refused(alice, deal, stages_a, stages_b, criteria):
    foreign = ExitCriterion.objects.create(stage=stages_b[0], text="Theirs", is_required=False)
    before = state(deal)
    with pytest.raises(services.ExitCriteriaInvalid):
        services.deal_move(
            acting_user=alice,
            deal=deal,
            stage_id=stages_a[1].pk,
            version=1,
            criteria=[criteria["need"].pk, foreign.pk],
        )
    assert state(deal) == before


def test_reopen_puts_a_deal_back_without_asking_for_criteria(alice, deal, stages_a, criteria):
    services.deal_mark_won(acting_user=alice, deal=deal, version=1)
    deal.refresh_from_db()
    services.deal_reopen(acting_user=alice, deal=deal, version=2)
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN and deal.stage == stages_a[0]


# --- a drop on the board and a crafted request --------------------------------------------


def move(client, deal, stage, **extra):
    data = {"stage": stage.pk, "version": deal.version, **extra}
    return client.post(reverse("deal-move", args=[deal.pk]), data, **HTMX)


def test_crafted_post_without_ticks_is_refused_with_the_dialog(
    client, alice, deal, stages_a, criteria
):
    client.force_login(alice)
    before = state(deal)
    response = move(client, deal, stages_a[1])
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#modal-body"
    html = response.content.decode()
    assert "Customer confirmed the need" in html and "Budget range discussed" in html
    assert f'value="{criteria["need"].pk}"' in html
    assert state(deal) == before


def test_drop_with_ticks_moves_and_closes_the_dialog(client, alice, deal, stages_a, criteria):
    client.force_login(alice)
    response = move(client, deal, stages_a[1], criteria=[criteria["need"].pk], confirm="1")
    assert response.status_code == 200
    assert "modal:close" in response["HX-Trigger-After-Settle"]
    assert f'id="deal-{deal.pk}"' in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == stages_a[1]
    assert DealCriterionCheck.objects.get(deal=deal).checked_by == alice


def test_drop_out_of_a_stage_without_criteria_takes_the_plain_path(
    client, alice, stages_a, criteria
):
    proposal = DealFactory(stage=stages_a[2], owner=alice)
    client.force_login(alice)
    response = move(client, proposal, stages_a[3])
    assert response.status_code == 200
    assert "HX-Trigger-After-Settle" not in response
    proposal.refresh_from_db()
    assert proposal.stage == stages_a[3]


@pytest.mark.parametrize("bad", ["abc", "-3", "0", "1" * 30])
def test_malformed_criteria_are_400_and_change_nothing(
    client, alice, deal, stages_a, criteria, bad
):
    client.force_login(alice)
    before = state(deal)
    response = move(client, deal, stages_a[1], criteria=[criteria["need"].pk, bad])
    assert response.status_code == 400
    assert state(deal) == before


def test_too_many_criteria_are_400(client, alice, deal, stages_a, criteria):
    client.force_login(alice)
    before = state(deal)
    response = move(client, deal, stages_a[1], criteria=list(range(1, 60)))
    assert response.status_code == 400
    assert state(deal) == before


def test_criteria_of_other_stages_are_400_and_change_nothing(
    client, alice, deal, stages_a, criteria
):
    client.force_login(alice)
    before = state(deal)
    response = move(
        client, deal, stages_a[1], criteria=[criteria["need"].pk, criteria["decider"].pk]
    )
    assert response.status_code == 400
    assert "do not belong" in response.content.decode()
    assert state(deal) == before


def test_outsider_gets_404_and_read_only_colleague_403(
    client, carol, alex, deal, stages_a, criteria
):
    before = state(deal)
    client.force_login(carol)
    assert move(client, deal, stages_a[1], criteria=[criteria["need"].pk]).status_code == 404
    client.force_login(alex)
    assert move(client, deal, stages_a[1], criteria=[criteria["need"].pk]).status_code == 403
    assert state(deal) == before


# --- the dialog the board opens -----------------------------------------------------------


def check_url(deal, stage, **extra):
    query = "&".join(f"{k}={v}" for k, v in {"stage": stage.pk, **extra}.items())
    return f"{reverse('deal-move-check', args=[deal.pk])}?{query}"


def test_dialog_lists_the_criteria_with_recorded_ones_ticked(
    client, alice, deal, stages_a, criteria
):
    DealCriterionCheck.objects.create(
        deal=deal, criterion=criteria["budget"], stage=stages_a[0], text="x", checked_by=alice
    )
    client.force_login(alice)
    response = client.get(check_url(deal, stages_a[2], version=1, after=""), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Leaving Lead in" in html and "Leaving Qualified" in html
    assert f'value="{criteria["budget"].pk}" checked disabled' in html
    assert f'value="{criteria["need"].pk}">' in html
    assert "Required" in html and "Recorded" in html
    assert f'hx-target="#stage-{stages_a[2].pk}-cards"' in html


def test_dialog_outsider_404_colleague_403_bad_stage_400(
    client, alice, alex, carol, deal, stages_a, stages_b, criteria
):
    client.force_login(carol)
    assert client.get(check_url(deal, stages_a[1]), **HTMX).status_code == 404
    client.force_login(alex)
    assert client.get(check_url(deal, stages_a[1]), **HTMX).status_code == 403
    client.force_login(alice)
    assert client.get(check_url(deal, stages_b[1]), **HTMX).status_code == 400
    assert client.get(f"{reverse('deal-move-check', args=[deal.pk])}?stage=x").status_code == 400


def test_board_marks_the_columns_that_have_criteria_without_more_queries(
    client, alice, deal, stages_a, criteria
):
    client.force_login(alice)
    url = reverse("board", args=[stages_a[0].pipeline_id])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert len(queries) == 6
    assert f'data-stage-id="{stages_a[0].pk}" data-exit-criteria="1"' in html
    assert f'data-stage-id="{stages_a[1].pk}" data-exit-criteria="1"' in html
    assert f'data-stage-id="{stages_a[2].pk}">' in html


# --- the deal page's "Move to stage" (no JavaScript) --------------------------------------


def plain_move(client, deal, stage, **extra):
    return client.post(reverse("deal-move", args=[deal.pk]), {"stage": stage.pk, **extra})


def test_deal_page_move_shows_the_criteria_step_first(client, alice, deal, stages_a, criteria):
    client.force_login(alice)
    before = state(deal)
    response = plain_move(client, deal, stages_a[1])
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="confirm" value="1"' in html and "Customer confirmed the need" in html
    assert state(deal) == before


def test_deal_page_move_without_the_required_tick_is_422(client, alice, deal, stages_a, criteria):
    client.force_login(alice)
    before = state(deal)
    response = plain_move(client, deal, stages_a[1], confirm="1", criteria=[criteria["budget"].pk])
    assert response.status_code == 422
    assert "Tick the required exit criterion first" in response.content.decode()
    assert state(deal) == before


def test_deal_page_move_with_ticks_moves_and_shows_the_record(
    client, alice, deal, stages_a, criteria
):
    client.force_login(alice)
    response = plain_move(
        client,
        deal,
        stages_a[1],
        confirm="1",
        criteria=[criteria["need"].pk, criteria["budget"].pk],
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.stage == stages_a[1]
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "Exit criteria" in html
    assert "Customer confirmed the need" in html and "Budget range discussed" in html
    assert "ticked by Alice Andersen" in html


def test_deal_page_move_out_of_a_stage_without_criteria_moves_at_once(
    client, alice, stages_a, criteria
):
    proposal = DealFactory(stage=stages_a[2], owner=alice)
    client.force_login(alice)
    response = plain_move(client, proposal, stages_a[3])
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.stage == stages_a[3]


# --- the weekly review ----------------------------------------------------------------------


def test_review_move_back_needs_no_criteria(client, bob, stages_a, alice, criteria):
    later = DealFactory(stage=stages_a[1], owner=alice)
    client.force_login(bob)
    response = client.post(
        reverse("review-move-back", args=[later.pk]),
        {"version": later.version, "section": "stale"},
    )
    assert response.status_code == 302
    later.refresh_from_db()
    assert later.stage == stages_a[0]
