"""What every subject's schemas share: ids, bounded text that PostgreSQL can store, the error
answer, the paging fields and the responses each kind of endpoint documents."""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, StringConstraints

from crm.api.pagination import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT

MAX_ID = 2**62

# Ids in paths, query strings and bodies: positive and within a database bigint.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Deal versions, as the board sends them.
Version = Annotated[int, Field(ge=1, le=2**31)]


def storable(text: str) -> str:
    """Text PostgreSQL can store: no NUL character and valid UTF-8 (no lone surrogates)."""
    if "\x00" in text:
        raise ValueError(_("Null characters are not allowed."))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(_("The text is not valid Unicode.")) from None
    return text


def text(max_length: int, *, min_length: int = 0):
    """A string, stripped, of at most `max_length` characters (`min_length` 1: required)."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=max_length, min_length=min_length),
        AfterValidator(storable),
    ]


def django_checked(validate):
    """A pydantic validator running a Django validator or normaliser (the page forms' rules:
    one rule, one message, in both places)."""

    def run(value):
        try:
            result = validate(value)
        except DjangoValidationError as error:
            raise ValueError(" ".join(str(m) for m in error.messages)) from None
        return value if result is None else result

    return AfterValidator(run)


SearchText = text(100)


class MissingCriterion(Schema):
    id: int
    stage_id: int
    text: str
    is_required: bool


class Error(Schema):
    """Every refusal: a sentence for people (`detail`, in the request's language), a fixed
    `code` for programs, and per kind of refusal the details to act on."""

    detail: str
    code: str = Field(
        description="invalid, unauthorized, forbidden, not_found, conflict, rule, "
        "exit_criteria_unmet, duplicate, try_again, too_large, throttled, unavailable"
    )
    errors: dict[str, list[str]] | None = Field(
        None, description="Bad input: the messages per field (`__all__`: not one field's)."
    )
    current_version: int | None = Field(
        None, description="A stale version (409): the deal's version now."
    )
    missing_criteria: list[MissingCriterion] | None = Field(
        None, description="A move refused by exit criteria (422): what to tick."
    )
    duplicates: list[dict[str, int | str]] | None = Field(
        None, description="Companies that look the same (409 duplicate): id and name."
    )


class PageQuery(Schema):
    """The paging fields of every list."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page, 1-100.")
    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR_LENGTH,
        description="`next_cursor` of the page before; left out: the first page.",
    )


READ = {400: Error, 401: Error, 404: Error, 413: Error, 429: Error}
LIST = {400: Error, 401: Error, 413: Error, 429: Error}
WRITE = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 413: Error, 429: Error}
CREATE = {400: Error, 401: Error, 403: Error, 409: Error, 413: Error, 429: Error}
