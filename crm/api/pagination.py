"""Cursor pagination for the list endpoints: `limit` (1-100) rows a page, ordered by one
allow-listed field and the id, and `next_cursor`, an opaque token that names where the next
page starts (the last row's value and id: keyset pagination).

Keyset rather than page numbers: each page costs one indexed query however deep into the
list it is, no COUNT over every visible row is needed, and a row written or deleted while a
client pages through does not shift the pages under it. The cursor is checked strictly (its
ordering must be the request's, its value of the field's type); anything else is 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from crm.api.errors import BadInput

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
MAX_CURSOR_LENGTH = 500


def parse_int(text: str) -> int:
    value = int(text)
    if not -(2**62) < value < 2**62:
        raise ValueError(text)
    return value


def parse_datetime_value(text: str) -> datetime:
    value = parse_datetime(text)
    if value is None:
        raise ValueError(text)
    return value


def parse_date_value(text: str) -> date:
    value = parse_date(text)
    if value is None:
        raise ValueError(text)
    return value


def parse_decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


def _encode(order: str, value: Any, pk: int) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    raw = json.dumps([order, text, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, order: str, parse: Callable[[str], Any]) -> tuple[Any, int]:
    bad = BadInput.field("cursor", _("That cursor was not understood. Start from the first page."))
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_order, text, pk = json.loads(raw)
        if cursor_order != order or not isinstance(text, str) or type(pk) is not int:
            raise ValueError(cursor)
        if not 0 < pk < 2**62 or "\x00" in text:
            raise ValueError(cursor)
        text.encode("utf-8")  # a lone surrogate cannot reach the database either
        return parse(text), pk
    except (ValueError, TypeError, InvalidOperation, binascii.Error, UnicodeError):
        raise bad from None


def keyset_page(
    queryset: QuerySet,
    *,
    order: str,
    fields: dict[str, Callable[[str], Any]],
    limit: int,
    cursor: str | None,
    values: tuple[str, ...] | None = None,
) -> tuple[list, str | None]:
    """One page of `queryset` ordered by `order` ("name" or "-name", a key of `fields`, which
    maps each orderable, non-null field to the parser of its cursor value) and then the id in
    the same direction. Returns the rows (dicts of `values` when given, else instances) and
    the next page's cursor (None on the last page). One query: it reads limit + 1 rows to
    know whether another page follows."""
    field = order.removeprefix("-")
    if field not in fields:
        message = _("Order by one of: %(fields)s.") % {"fields": ", ".join(fields)}
        raise BadInput.field("order", message)
    descending = order.startswith("-")
    direction = "-" if descending else ""
    if field == "id":
        queryset = queryset.order_by(f"{direction}pk")
    else:
        queryset = queryset.order_by(f"{direction}{field}", f"{direction}pk")
    if cursor:
        value, pk = _decode(cursor, order, fields[field])
        after = "lt" if descending else "gt"
        if field == "id":
            queryset = queryset.filter(**{f"pk__{after}": pk})
        else:
            queryset = queryset.filter(
                Q(**{f"{field}__{after}": value}) | Q(**{field: value, f"pk__{after}": pk})
            )
    if values is not None:
        queryset = queryset.values(*values)
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    if isinstance(last, dict):
        return rows, _encode(order, last[field], last["id"])
    return rows, _encode(order, getattr(last, field), last.pk)
