"""A pipeline's deals as a download: the deals the board's filters select (open ones, or
all), in columns the import reads back (crm.importing.headers), so that an export imported
into another install gives the same deals, and imported into this one changes nothing.

Each deal names where it came from: the system and record id it was imported with, or this
install ("crm-" and the first digits of its install id) and its own id."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone

from accounts.models import User
from crm.importing.headers import DEALS, EXPORT_COLUMNS
from crm.organisation import organisation_get
from pipeline.models import Deal, DealStatus, Pipeline
from pipeline.selectors.board import BoardFilters

CHUNK = 2000
OPEN = "open"
CLOSED = "closed"
ALL = "all"
STATUSES = (OPEN, CLOSED, ALL)

# The column names, lazily translated: written in the downloading user's language and
# recognised by the import in every language (crm.importing.headers.EXPORT_COLUMNS).
DEAL_HEADER = [label for _key, label in EXPORT_COLUMNS[DEALS]]


def install_source() -> str:
    """How this install names itself as a deal's source (crm.services.import_rows reads it
    back to match its own deals by id)."""
    return f"crm-{organisation_get().install_id.hex[:12]}"


def deal_export_rows(
    *, user: User, pipeline: Pipeline, filters: BoardFilters, status: str = OPEN
) -> Iterator[list]:
    """The pipeline's deals the user sees that match the board's filters: open ones, closed
    (won and lost), or all; by stage and position, read in chunks."""
    qs = filters.apply(Deal.objects.visible_to(user).filter(pipeline=pipeline), user=user)
    if status == OPEN:
        qs = qs.filter(status=DealStatus.OPEN)
    elif status == CLOSED:
        qs = qs.filter(status__in=[DealStatus.WON, DealStatus.LOST])
    qs = qs.select_related("company", "contact", "owner", "stage", "lost_reason").order_by(
        "stage__position", "status", "position", "pk"
    )
    own = install_source()
    zone = timezone.get_current_timezone()
    for deal in qs.iterator(chunk_size=CHUNK):
        company, contact, owner = deal.company, deal.contact, deal.owner
        yield [
            deal.title,
            company.name if company else "",
            company.domain if company else "",
            contact.name if contact else "",
            contact.email if contact else "",
            pipeline.name,
            deal.stage.name,
            deal.status,
            (owner.get_full_name() or owner.username) if owner else "",
            owner.email if owner else "",
            deal.value,
            deal.currency,
            deal.expected_close_date,
            timezone.localtime(deal.created_at, zone),
            timezone.localtime(deal.closed_at, zone) if deal.closed_at else None,
            deal.lost_reason.name if deal.lost_reason else "",
            deal.next_step_subject,
            deal.next_step_due,
            deal.source_system or own,
            deal.source_id or str(deal.pk),
        ]
