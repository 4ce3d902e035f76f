"""Ids in request bodies, turned into records only through what the user may see.

"Never trust an id from a request body": each id is looked up in a queryset the selectors
give for this user (visible companies, contacts, stages, people of their teams...). An id
that names nothing there, whether it does not exist or belongs to another team, is the
same 400 on that field, so a body cannot be used to probe other teams' records; the
services then check the rules that depend on the values (the owner is in the team, the
company is the pipeline's team's, ...)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.api.errors import BadInput


def body_record(queryset: QuerySet, pk: int | None, *, field: str):
    """The record `pk` of `queryset`, None for None, else 400 on `field`."""
    if pk is None:
        return None
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise BadInput.field(field, _("There is no such record that you can use here."))
    return found


def sent(body, name: str) -> bool:
    """Whether the client sent `name` (a PATCH changes only the fields sent)."""
    return name in body.model_fields_set


def changes(body, names) -> dict:
    """The fields of `names` the client sent, with their values."""
    return {name: getattr(body, name) for name in names if sent(body, name)}
