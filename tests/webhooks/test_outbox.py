"""The outbox: an event is written in the change's transaction, for the endpoints that
listen, and nothing at all (not a query) when nobody listens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.services.companies import company_create, company_update
from crm.services.contacts import contact_create, contact_update
from pipeline import services
from pipeline.models import LostReason
from tests.conftest import is_postgres
from tests.factories import DealFactory
from webhooks.models import OutboxEvent, WebhookDelivery
from webhooks.services.endpoints import endpoint_create, endpoint_set_active
from webhooks.services.events import subscribers_get


def _move(alice, deal, stage):
    return services.deal_move(acting_user=alice, deal=deal, stage_id=stage.pk, version=deal.version)


@pytest.mark.django_db
def test_no_endpoint_no_event_and_no_query(alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    with CaptureQueriesContext(connection) as queries:
        _move(alice, deal, stages_a[1])
    assert OutboxEvent.objects.count() == 0
    assert not [q for q in queries.captured_queries if "webhooks_" in q["sql"]]


@pytest.mark.django_db
def test_a_move_records_one_event_with_one_delivery_per_endpoint(endpoint, admin, alice, stages_a):
    other, _ = endpoint_create(
        acting_user=admin, url="http://127.0.0.1:9/other", events=["deal.moved"]
    )
    deal = DealFactory(stage=stages_a[0], owner=alice)
    subscribers_get()  # read once per process and version, as a running server has them
    with CaptureQueriesContext(connection) as queries:
        _move(alice, deal, stages_a[1])
    [event] = OutboxEvent.objects.all()
    assert event.type == "deal.moved"
    assert event.data["from_stage"]["id"] == stages_a[0].pk
    assert event.data["to_stage"] == {
        "id": stages_a[1].pk,
        "name": stages_a[1].name,
        "probability": stages_a[1].probability,
    }
    assert event.data["deal"]["id"] == deal.pk and event.data["deal"]["version"] == 2
    assert set(event.deliveries.values_list("endpoint_id", flat=True)) == {endpoint.pk, other.pk}
    # The event and its deliveries: one statement on PostgreSQL, two INSERTs elsewhere;
    # nothing read.
    ours = [q["sql"] for q in queries.captured_queries if "webhooks_" in q["sql"]]
    if is_postgres():
        assert len(ours) == 1 and ours[0].startswith("WITH event AS ( INSERT"), ours
    else:
        assert len(ours) == 2 and all(sql.startswith("INSERT") for sql in ours), ours


@pytest.mark.django_db
def test_a_rolled_back_move_leaves_no_event(endpoint, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        _move(alice, deal, stages_a[1])
        assert OutboxEvent.objects.count() == 1  # written with the move...
        raise RuntimeError("the request failed after the move")
    assert OutboxEvent.objects.count() == 0  # ...and gone with it
    assert WebhookDelivery.objects.count() == 0
    deal.refresh_from_db()
    assert deal.stage == stages_a[0]


@pytest.mark.django_db
def test_a_refused_move_records_nothing(endpoint, alice, stages_a):
    deal = DealFactory(stage=stages_a[0], owner=alice)
    with pytest.raises(services.DealConflict):
        services.deal_move(
            acting_user=alice, deal=deal, stage_id=stages_a[1].pk, version=deal.version + 5
        )
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db
def test_every_deal_change_records_its_event(endpoint, alice, stages_a, team_a):
    deal = services.deal_create(acting_user=alice, stage=stages_a[0], title="Forklifts")
    deal = services.deal_update(
        acting_user=alice, deal=deal, version=deal.version, data={"title": "Cranes"}
    )
    deal = _move(alice, deal, stages_a[1]).deal
    deal = services.deal_pause(
        acting_user=alice,
        deal=deal,
        version=deal.version,
        until=timezone.localdate() + timedelta(days=9),
        reason="Budget in spring",
    )
    deal = services.deal_resume(acting_user=alice, deal=deal, version=deal.version)
    deal = services.deal_mark_won(acting_user=alice, deal=deal, version=deal.version)
    deal = services.deal_reopen(acting_user=alice, deal=deal, version=deal.version)
    activity = services.activity_create(
        acting_user=alice, deal=deal, subject="Call", due_date=timezone.localdate()
    )
    services.activity_complete(acting_user=alice, activity=activity)
    reason = LostReason.objects.create(name="Price")
    deal.refresh_from_db()
    services.deal_mark_lost(acting_user=alice, deal=deal, version=deal.version, reason=reason)

    types = list(OutboxEvent.objects.order_by("created_at").values_list("type", flat=True))
    assert types == [
        "deal.created",
        "deal.updated",
        "deal.moved",
        "deal.paused",
        "deal.reopened",
        "deal.won",
        "deal.reopened",
        "activity.completed",
        "deal.lost",
    ]
    updated = OutboxEvent.objects.get(type="deal.updated")
    assert updated.data["changed_fields"] == ["title"]
    assert updated.data["deal"]["title"] == "Cranes"
    lost = OutboxEvent.objects.get(type="deal.lost")
    assert lost.data["deal"]["lost_reason_id"] == reason.pk


@pytest.mark.django_db
def test_companies_and_contacts_record_their_events(endpoint, bob, team_a):
    company = company_create(acting_user=bob, team=team_a, name="Nordlys")
    company_update(
        acting_user=bob, company=company, name="Nordlys AS", domain="", team=team_a, owner=None
    )
    contact = contact_create(acting_user=bob, company=company, name="Jens")
    contact_update(
        acting_user=bob,
        contact=contact,
        company=company,
        name="Jens Hansen",
        email="",
        phone="",
        title="",
    )
    # Unchanged: no event.
    company_update(
        acting_user=bob, company=company, name="Nordlys AS", domain="", team=team_a, owner=None
    )
    events = {e.type: e.data for e in OutboxEvent.objects.all()}
    assert sorted(events) == [
        "company.created",
        "company.updated",
        "contact.created",
        "contact.updated",
    ]
    assert events["company.updated"]["company"]["name"] == "Nordlys AS"
    assert events["contact.updated"]["contact"]["name"] == "Jens Hansen"


@pytest.mark.django_db
def test_an_endpoint_hears_only_its_events_and_its_team(
    admin, alice, carol, stages_a, stages_b, team_b, local_receivers_allowed
):
    team_b_moves, _ = endpoint_create(
        acting_user=admin, url="http://127.0.0.1:9/b", events=["deal.moved"], team=team_b
    )
    created_only, _ = endpoint_create(
        acting_user=admin, url="http://127.0.0.1:9/c", events=["deal.created"]
    )
    deal_a = DealFactory(stage=stages_a[0], owner=alice)
    deal_b = DealFactory(stage=stages_b[0], owner=carol)
    _move(alice, deal_a, stages_a[1])
    _move(carol, deal_b, stages_b[1])
    [event] = OutboxEvent.objects.all()
    assert event.data["deal"]["id"] == deal_b.pk
    assert list(event.deliveries.values_list("endpoint_id", flat=True)) == [team_b_moves.pk]
    assert not created_only.deliveries.exists()


@pytest.mark.django_db
def test_an_endpoint_switched_off_hears_nothing(endpoint, admin, alice, stages_a):
    endpoint_set_active(acting_user=admin, endpoint=endpoint, active=False)
    deal = DealFactory(stage=stages_a[0], owner=alice)
    _move(alice, deal, stages_a[1])
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_import_records_one_event_for_the_batch(endpoint, bob, pipeline_a, stages_a):
    """Imports take the bulk path (thousands of rows at once): one `import.completed` event
    with the batch's counts, not one per row (docs/decisions.md)."""
    from tests.crm.import_support import run_import

    LostReason.objects.get_or_create(name="Too expensive")
    batch = run_import(bob, "pipedrive_deals.csv", pipeline=pipeline_a)
    [event] = OutboxEvent.objects.all()
    assert event.type == "import.completed"
    assert event.data["import"]["id"] == batch.pk
    assert event.data["import"]["created"] == batch.created_count == 4
    assert event.team_id == pipeline_a.team_id
