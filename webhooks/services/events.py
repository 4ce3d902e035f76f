"""Recording events in the outbox, inside the transaction of the change.

Every service that changes a deal, company, contact or activity calls `event_record` once,
in its own transaction: the event and one delivery per endpoint subscribed to it are written
with the change, so a change that rolls back leaves no event and a committed change always
has its event (the outbox). After commit one task is queued to send it; if the broker is
down that enqueue fails quietly and the periodic sweep sends it later.

The cost when nobody listens is no query: the active endpoints and their events are kept in a
`Memo` under the shared `webhooks` version, which every endpoint change moves on. When an
endpoint listens: two INSERTs (the event, its deliveries) and one enqueue after commit.
The payload's data is built only then (the callers pass a function).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from crm.broker import enqueue_after_response
from crm.shared import Memo, changed
from webhooks.models import OutboxEvent, WebhookDelivery, WebhookEndpoint


@dataclass(frozen=True)
class Subscriber:
    endpoint_id: int
    team_id: int | None
    events: frozenset[str]


def _subscribers_load(_key) -> tuple[Subscriber, ...]:
    rows = WebhookEndpoint.objects.filter(is_active=True, disabled_at__isnull=True).values_list(
        "pk", "team_id", "events"
    )
    return tuple(Subscriber(pk, team_id, frozenset(events)) for pk, team_id, events in rows)


_subscribers = Memo("webhooks", _subscribers_load)


def subscribers_get() -> tuple[Subscriber, ...]:
    """The endpoints that hear events now (from this process's memory while current)."""
    return _subscribers.get()


def subscribers_forget() -> None:
    """Read the endpoints again at the next event (tests; the version does it otherwise)."""
    _subscribers.forget()


def subscribers_changed() -> None:
    """An endpoint was added, changed, switched on or off: every process reads them again
    (call it in the writing transaction)."""
    changed("webhooks")


def event_record(
    event_type: str,
    *,
    team_id: int | None | Callable[[], int | None],
    data: dict | Callable[[], dict],
) -> OutboxEvent | None:
    """Record that `event_type` happened, for the endpoints subscribed to it (and to the
    team `team_id`, or to every team). Call it inside the change's transaction. `team_id`
    and `data` may be functions, called only when someone listens. Returns the event, or None
    when nobody listens (nothing written)."""
    listening = [s for s in subscribers_get() if event_type in s.events]
    if not listening:
        return None
    team = None
    if any(s.team_id is not None for s in listening) or not callable(team_id):
        team = team_id() if callable(team_id) else team_id
        listening = [s for s in listening if s.team_id is None or s.team_id == team]
        if not listening:
            return None
    return _write(event_type, team, data() if callable(data) else data, listening)


def _write(
    event_type: str, team_id: int | None, data: dict, listening: list[Subscriber]
) -> OutboxEvent:
    now = timezone.now()
    event = OutboxEvent(
        id=uuid.uuid4(), type=event_type, team_id=team_id, data=data, created_at=now
    )
    give_up_at = now + timedelta(hours=settings.WEBHOOKS_RETRY_HOURS)
    if connection.vendor == "postgresql":
        _insert_in_one_statement(event, [s.endpoint_id for s in listening], give_up_at)
    else:
        event.save(force_insert=True)
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event.pk,
                next_attempt_at=now,
                give_up_at=give_up_at,
                created_at=now,
            )
            for endpoint_id in [s.endpoint_id for s in listening]
        )
    event_id = str(event.pk)
    # After commit, and in a request after its answer is sent: the drag does not wait for
    # the broker (docs/performance.md); the sweep sends it if this publish never happens.
    transaction.on_commit(lambda: enqueue_after_response("webhooks.event_deliver", event_id))
    return event


def _insert_in_one_statement(event: OutboxEvent, endpoint_ids: list[int], give_up_at) -> None:
    """The event and its deliveries in one statement (one round trip on a move's hot path,
    docs/performance.md): a data-modifying CTE. The event's id is made here, so the
    deliveries need nothing back from it; their foreign key is checked at commit."""
    rows = ", ".join(["(%s, %s, 'pending', 0, %s, %s, %s, '', '')"] * len(endpoint_ids))
    params: list = [
        event.pk,
        event.type,
        event.version,
        event.team_id,
        json.dumps(event.data, cls=DjangoJSONEncoder),
        event.created_at,
    ]
    for endpoint_id in endpoint_ids:
        params += [endpoint_id, event.pk, event.created_at, give_up_at, event.created_at]
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH event AS ("
            " INSERT INTO webhooks_outboxevent (id, type, version, team_id, data, created_at)"
            " VALUES (%s, %s, %s, %s, %s::jsonb, %s))"
            " INSERT INTO webhooks_webhookdelivery (endpoint_id, event_id, status, attempts,"
            " next_attempt_at, give_up_at, created_at, response_excerpt, error)"
            f" VALUES {rows}",
            params,
        )


# --- the payloads' data -----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def deal_data(deal) -> dict:
    """A deal as every deal event describes it: its own fields and the ids it refers to."""
    fields = (
        "title",
        "status",
        "value",
        "currency",
        "expected_close_date",
        "pipeline_id",
        "stage_id",
        "owner_id",
        "company_id",
        "contact_id",
        "lost_reason_id",
        "paused_until",
        "source",
        "version",
        "created_at",
        "updated_at",
    )
    return {"id": deal.pk, **{name: _plain(getattr(deal, name)) for name in fields}}


def deal_team(deal) -> Callable[[], int | None]:
    """The deal's team, read only if an endpoint limited to a team asks."""
    return lambda: deal.pipeline.team_id


def deal_event(event_type: str, deal, **extra: Callable[[], Any] | Any) -> OutboxEvent | None:
    """`event_record` for a deal: data {"deal": {...}, **extra}."""

    def data() -> dict:
        return {"deal": deal_data(deal), **{k: v() if callable(v) else v for k, v in extra.items()}}

    return event_record(event_type, team_id=deal_team(deal), data=data)


def stage_data(stage) -> dict | None:
    if stage is None:
        return None
    return {"id": stage.pk, "name": stage.name, "probability": stage.probability}


def company_data(company) -> dict:
    fields = (
        "name",
        "domain",
        "tier",
        "tier_locked",
        "website",
        "phone",
        "registration_number",
        "team_id",
        "owner_id",
        "created_at",
        "updated_at",
    )
    data = {"id": company.pk, **{name: _plain(getattr(company, name)) for name in fields}}
    data["country"] = company.country.code if company.country else ""
    return data


def company_event(event_type: str, company) -> OutboxEvent | None:
    return event_record(
        event_type, team_id=company.team_id, data=lambda: {"company": company_data(company)}
    )


def contact_data(contact) -> dict:
    fields = ("name", "email", "phone", "title", "company_id", "created_at", "updated_at")
    return {"id": contact.pk, **{name: _plain(getattr(contact, name)) for name in fields}}


def contact_event(event_type: str, contact) -> OutboxEvent | None:
    return event_record(
        event_type,
        team_id=lambda: contact.company.team_id,
        data=lambda: {"contact": contact_data(contact)},
    )


def activity_data(activity) -> dict:
    fields = (
        "deal_id",
        "kind",
        "subject",
        "due_date",
        "due_time",
        "assignee_id",
        "note",
        "done_at",
        "created_at",
    )
    return {"id": activity.pk, **{name: _plain(getattr(activity, name)) for name in fields}}
