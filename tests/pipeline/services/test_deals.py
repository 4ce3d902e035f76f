from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from pipeline import services
from pipeline.models import (
    Activity,
    Deal,
    DealStatus,
    Flag,
    LostReason,
    Stage,
    StageChange,
    StageTotal,
)
from pipeline.models.deals import has_open_flag
from tests.factories import CompanyFactory, ContactFactory, DealFactory


def column(stage):
    return list(
        Deal.objects.filter(stage=stage, status="open")
        .order_by("position")
        .values_list("title", flat=True)
    )


@pytest.fixture
def three(stages_a, alice):
    lead = stages_a[0]
    return [DealFactory(stage=lead, owner=alice, title=t) for t in ("A", "B", "C")]


def test_move_to_another_stage_writes_stage_change_and_resets_clock(alice, stages_a, three):
    deal = three[0]
    result = services.deal_move(
        acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version
    )
    deal.refresh_from_db()
    assert result.changed and result.from_stage_id == stages_a[0].pk
    assert deal.stage == stages_a[1]
    assert deal.version == 2
    change = StageChange.objects.get(deal=deal, from_stage=stages_a[0])
    assert change.to_stage == stages_a[1] and change.user == alice
    assert deal.stage_entered_at == change.at


def test_move_below_a_neighbour_and_above_another(alice, stages_a, three):
    a, b, c = three
    services.deal_move(acting_user=alice, deal=a, stage_id=stages_a[0].pk, version=1, after_id=b.pk)
    assert column(stages_a[0]) == ["B", "A", "C"]
    c.refresh_from_db()
    services.deal_move(
        acting_user=alice, deal=c, stage_id=stages_a[0].pk, version=1, before_id=b.pk
    )
    assert column(stages_a[0]) == ["C", "B", "A"]


def test_move_to_the_top_when_no_neighbour_given(alice, stages_a, three):
    c = three[2]
    services.deal_move(acting_user=alice, deal=c, stage_id=stages_a[1].pk, version=1)
    services.deal_move(
        acting_user=alice, deal=three[1], stage_id=stages_a[1].pk, version=1, before_id=c.pk
    )
    assert column(stages_a[1]) == ["B", "C"]


def test_same_place_twice_changes_nothing(alice, stages_a, three):
    a, b, _ = three
    services.deal_move(acting_user=alice, deal=b, stage_id=stages_a[0].pk, version=1, after_id=a.pk)
    b.refresh_from_db()
    assert b.version == 1
    assert StageChange.objects.filter(deal=b).count() == 0


def test_stale_version_raises_conflict_and_changes_nothing(alice, stages_a, three):
    deal = three[0]
    with pytest.raises(services.DealConflict):
        services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[2].pk, version=7)
    deal.refresh_from_db()
    assert deal.stage == stages_a[0] and deal.version == 1


def test_stage_of_another_pipeline_is_refused(alice, stages_a, stages_b, three):
    with pytest.raises(services.DealRuleError):
        services.deal_move(acting_user=alice, deal=three[0], stage_id=stages_b[0].pk, version=1)
    assert Deal.objects.get(pk=three[0].pk).stage == stages_a[0]


def test_closed_deal_cannot_move(alice, stages_a, three):
    deal = services.deal_mark_won(acting_user=alice, deal=three[0], version=1)
    with pytest.raises(services.DealRuleError):
        services.deal_move(
            acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version
        )


# --- move back -----------------------------------------------------------------------------


def moved_back_state(deal):
    row = Deal.objects.get(pk=deal.pk)
    totals = sorted(StageTotal.objects.filter(count__gt=0).values_list("stage_id", "count"))
    return row.stage_id, row.position, row.version, StageChange.objects.count(), totals


def test_move_back_goes_to_the_stage_before_through_a_move(alice, stages_a):
    deal = DealFactory(stage=stages_a[2], owner=alice)
    result = services.deal_move_back(acting_user=alice, deal=deal, version=deal.version)
    deal.refresh_from_db()
    assert result.changed and result.from_stage == stages_a[2] and result.stage == stages_a[1]
    assert deal.stage == stages_a[1] and deal.version == 2
    change = StageChange.objects.get(deal=deal, from_stage=stages_a[2])
    assert change.to_stage == stages_a[1] and change.user == alice
    assert deal.stage_entered_at == change.at
    assert StageTotal.objects.get(stage=stages_a[1], currency=deal.currency).count == 1
    assert StageTotal.objects.get(stage=stages_a[2], currency=deal.currency).count == 0


def test_move_back_skips_removed_stages(alice, stages_a):
    Stage.objects.filter(pk=stages_a[1].pk).update(is_archived=True)
    deal = DealFactory(stage=stages_a[2], owner=alice)
    result = services.deal_move_back(acting_user=alice, deal=deal, version=deal.version)
    assert result.stage == stages_a[0]
    assert Deal.objects.get(pk=deal.pk).stage == stages_a[0]


def test_move_back_in_the_first_stage_is_refused_and_changes_nothing(alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    before = moved_back_state(deal)
    with pytest.raises(services.DealRuleError, match="first stage"):
        services.deal_move_back(acting_user=alice, deal=deal, version=deal.version)
    assert moved_back_state(deal) == before


def test_move_back_with_a_stale_version_is_a_conflict_and_changes_nothing(alice, stages_a):
    deal = DealFactory(stage=stages_a[2], owner=alice)
    before = moved_back_state(deal)
    with pytest.raises(services.DealConflict):
        services.deal_move_back(acting_user=alice, deal=deal, version=deal.version + 1)
    assert moved_back_state(deal) == before


def test_move_back_of_a_closed_deal_is_refused_and_changes_nothing(alice, stages_a):
    deal = DealFactory(stage=stages_a[2], owner=alice)
    deal = services.deal_mark_won(acting_user=alice, deal=deal, version=deal.version)
    before = moved_back_state(deal)
    with pytest.raises(services.DealRuleError):
        services.deal_move_back(acting_user=alice, deal=deal, version=deal.version)
    assert moved_back_state(deal) == before


def test_exhausted_gap_renumbers_the_column_and_keeps_order(alice, stages_a):
    stage = stages_a[0]
    first = DealFactory(stage=stage, owner=alice, title="first", position=10)
    second = DealFactory(stage=stage, owner=alice, title="second", position=11)
    mover = DealFactory(stage=stages_a[1], owner=alice, title="mover")
    services.deal_move(
        acting_user=alice, deal=mover, stage_id=stage.pk, version=1, after_id=first.pk
    )
    assert column(stage) == ["first", "mover", "second"]
    positions = list(Deal.objects.filter(stage=stage).values_list("position", flat=True))
    assert len(set(positions)) == 3
    second.refresh_from_db()
    assert second.version == 1  # renumbering is not an edit


def test_neighbour_that_left_the_column_falls_back_to_the_other(alice, stages_a, three):
    a, b, c = three
    services.deal_move(acting_user=alice, deal=a, stage_id=stages_a[1].pk, version=1)
    b.refresh_from_db()
    # The client still thinks A is above the drop point; it is gone, so C decides.
    services.deal_move(
        acting_user=alice, deal=b, stage_id=stages_a[0].pk, version=1, after_id=a.pk, before_id=c.pk
    )
    assert column(stages_a[0]) == ["B", "C"]


def test_create_puts_the_deal_on_top_and_records_entry(alice, stages_a, three):
    deal = services.deal_create(
        acting_user=alice, stage=stages_a[0], title="New", value=Decimal("5"), currency="DKK"
    )
    assert column(stages_a[0])[0] == "New"
    assert deal.owner == alice
    assert StageChange.objects.get(deal=deal).from_stage is None


def test_salesperson_cannot_create_a_deal_for_someone_else(alice, bob, stages_a):
    with pytest.raises(PermissionDenied):
        services.deal_create(acting_user=alice, stage=stages_a[0], title="x", owner=bob)
    assert not Deal.objects.exists()


def test_company_of_another_team_is_refused(alice, stages_a, team_b):
    company = CompanyFactory(team=team_b)
    with pytest.raises(services.DealRuleError):
        services.deal_create(acting_user=alice, stage=stages_a[0], title="x", company=company)
    assert not Deal.objects.exists()


def test_contact_must_work_at_the_company(alice, stages_a, team_a):
    company = CompanyFactory(team=team_a)
    stranger = ContactFactory(company=CompanyFactory(team=team_a))
    with pytest.raises(services.DealRuleError):
        services.deal_create(
            acting_user=alice, stage=stages_a[0], title="x", company=company, contact=stranger
        )


def test_create_with_a_next_step_plans_it_in_the_same_go(alice, stages_a):
    due = timezone.localdate() + timedelta(days=1)
    deal = services.deal_create(
        acting_user=alice,
        stage=stages_a[0],
        title="New",
        next_step=services.NextStep(subject="Call Jens", due_date=due, kind="meeting"),
    )
    activity = Activity.objects.get(deal=deal)
    assert (activity.subject, activity.kind, activity.due_date) == ("Call Jens", "meeting", due)
    assert activity.assignee == alice and activity.created_by == alice
    row = Deal.objects.get(pk=deal.pk)
    assert (row.next_step_id, row.next_step_subject, row.next_step_due) == (
        activity.pk,
        "Call Jens",
        due,
    )
    assert row.next_step_assignee == alice and not row.needs_attention
    assert deal.next_step_id == activity.pk  # the returned deal carries it too
    bare = services.deal_create(acting_user=alice, stage=stages_a[0], title="Without a step")
    services.flags_scan()
    assert list(Flag.objects.values_list("deal_id", "kind")) == [(bare.pk, "no_next_step")]


def test_next_step_goes_to_the_owner_the_manager_chose(bob, alex, stages_a):
    deal = services.deal_create(
        acting_user=bob,
        stage=stages_a[0],
        title="For Alex",
        owner=alex,
        next_step=services.NextStep(subject="Intro call", due_date=timezone.localdate()),
    )
    assert Activity.objects.get(deal=deal).assignee == alex


def test_a_refused_next_step_creates_nothing(alice, stages_a, carol):
    """The deal is written first, the step second: the step's refusal (someone outside the
    team) rolls the deal, its stage entry and the column totals back with it."""
    before = list(StageTotal.objects.filter(stage=stages_a[0]).values_list("count", "value"))
    with pytest.raises(services.DealRuleError):
        services.deal_create(
            acting_user=alice,
            stage=stages_a[0],
            title="Orphan",
            value=Decimal("900"),
            next_step=services.NextStep(subject="x", due_date=timezone.localdate(), assignee=carol),
        )
    assert not Deal.objects.exists() and not Activity.objects.exists()
    assert not StageChange.objects.exists()
    after = list(StageTotal.objects.filter(stage=stages_a[0]).values_list("count", "value"))
    assert after == before


def test_update_with_stale_version_conflicts(alice, three):
    deal = three[0]
    services.deal_update(acting_user=alice, deal=deal, version=1, data={"title": "Renamed"})
    with pytest.raises(services.DealConflict) as info:
        services.deal_update(acting_user=alice, deal=deal, version=1, data={"title": "Mine"})
    assert info.value.current.title == "Renamed"
    assert Deal.objects.get(pk=deal.pk).title == "Renamed"


def test_update_without_changes_keeps_the_version(alice, three):
    deal = services.deal_update(acting_user=alice, deal=three[0], version=1, data={"title": "A"})
    assert deal.version == 1


def test_update_never_moves_the_deal(alice, stages_a, three):
    deal = three[0]
    services.deal_move(acting_user=alice, deal=deal, stage_id=stages_a[2].pk, version=1)
    deal.refresh_from_db()
    services.deal_update(
        acting_user=alice,
        deal=deal,
        version=deal.version,
        data={"stage": stages_a[0], "title": "T"},
    )
    deal.refresh_from_db()
    assert deal.stage == stages_a[2] and deal.title == "T"


def test_salesperson_cannot_reassign_but_manager_can(alice, bob, alex, three):
    deal = three[0]
    with pytest.raises(PermissionDenied):
        services.deal_update(acting_user=alice, deal=deal, version=1, data={"owner": alex})
    services.deal_update(acting_user=bob, deal=deal, version=1, data={"owner": alex})
    assert Deal.objects.get(pk=deal.pk).owner == alex


def test_owner_outside_the_team_is_refused(bob, carol, three):
    with pytest.raises(services.DealRuleError):
        services.deal_update(acting_user=bob, deal=three[0], version=1, data={"owner": carol})
    assert Deal.objects.get(pk=three[0].pk).owner.username == "alice"


def test_lost_records_reason_and_stage_and_reopen_puts_it_back_on_top(alice, stages_a, three):
    a, b, c = three
    reason = LostReason.objects.first()
    services.deal_mark_lost(acting_user=alice, deal=c, version=1, reason=reason, note="too pricey")
    c.refresh_from_db()
    assert c.status == DealStatus.LOST and c.lost_from_stage == stages_a[0]
    assert c.lost_reason == reason and c.closed_at is not None
    assert column(stages_a[0]) == ["A", "B"]
    services.deal_reopen(acting_user=alice, deal=c, version=c.version)
    c.refresh_from_db()
    assert c.status == DealStatus.OPEN and c.lost_reason is None and c.closed_at is None
    assert column(stages_a[0]) == ["C", "A", "B"]


def test_closing_twice_is_refused(alice, three):
    deal = services.deal_mark_won(acting_user=alice, deal=three[0], version=1)
    with pytest.raises(services.DealRuleError):
        services.deal_mark_won(acting_user=alice, deal=deal, version=deal.version)


def test_salesperson_cannot_delete(alice, three):
    with pytest.raises(PermissionDenied):
        services.deal_delete(acting_user=alice, deal=three[0])
    assert Deal.objects.filter(pk=three[0].pk).exists()


def live_totals(stage_ids):
    from django.db.models import Count, Sum

    rows = (
        Deal.objects.filter(stage_id__in=stage_ids, status="open")
        .values("stage_id", "currency")
        .annotate(n=Count("pk"), total=Sum("value"), flagged=Count("pk", filter=has_open_flag()))
    )
    return {(r["stage_id"], r["currency"]): (r["n"], r["total"], r["flagged"]) for r in rows}


def kept_totals(stage_ids):
    from pipeline.models import StageTotal

    return {
        (t.stage_id, t.currency): (t.count, t.value, t.attention)
        for t in StageTotal.objects.filter(stage_id__in=stage_ids)
        if t.count
    }


def test_kept_column_totals_equal_the_deals_after_any_sequence_of_changes(alice, bob, stages_a):
    import random

    rng = random.Random(7)
    reason = LostReason.objects.first()
    deals = [
        services.deal_create(
            acting_user=alice,
            stage=rng.choice(stages_a),
            title=f"D{i}",
            value=Decimal(rng.randrange(0, 10_000)),
            currency=rng.choice(["EUR", "DKK", "SEK"]),
        )
        for i in range(12)
    ]
    for _ in range(80):
        deal = Deal.objects.get(pk=rng.choice(deals).pk)
        action = rng.choice(
            ["move", "edit", "won", "lost", "reopen", "delete", "pause", "step", "done", "scan"]
        )
        try:
            if action == "move":
                services.deal_move(
                    acting_user=alice,
                    deal=deal,
                    stage_id=rng.choice(stages_a).pk,
                    version=deal.version,
                )
            elif action == "edit":
                data = {
                    "value": Decimal(rng.randrange(0, 5000)),
                    "currency": rng.choice(["EUR", "NOK"]),
                }
                services.deal_update(acting_user=alice, deal=deal, version=deal.version, data=data)
            elif action == "won":
                services.deal_mark_won(acting_user=alice, deal=deal, version=deal.version)
            elif action == "lost":
                services.deal_mark_lost(
                    acting_user=alice, deal=deal, version=deal.version, reason=reason
                )
            elif action == "reopen":
                services.deal_reopen(acting_user=alice, deal=deal, version=deal.version)
            elif action == "pause":
                until = timezone.localdate() + timedelta(days=rng.randrange(1, 20))
                services.deal_pause(
                    acting_user=alice, deal=deal, version=deal.version, until=until, reason="x"
                )
            elif action == "step":
                due = timezone.localdate() + timedelta(days=rng.randrange(-5, 5))
                services.activity_create(acting_user=alice, deal=deal, subject="Call", due_date=due)
            elif action == "done" and deal.next_step_id:
                services.activity_complete(acting_user=alice, activity=deal.next_step)
            elif action == "scan":
                services.flags_scan(now=timezone.now() + timedelta(days=rng.randrange(0, 30)))
            elif action == "delete" and rng.random() < 0.2:
                services.deal_delete(acting_user=bob, deal=deal)
                deals.remove(deal)
        except services.DealRuleError:
            pass
    ids = [s.pk for s in stages_a]
    assert kept_totals(ids) == live_totals(ids)
    assert services.stage_totals_rebuild(stage_ids=ids) == len(ids)
    assert kept_totals(ids) == live_totals(ids)
