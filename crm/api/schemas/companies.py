"""Companies: the answer, the list's filters and order, the create and change bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.core.validators import URLValidator
from django_countries import countries
from ninja import Field, Schema
from pydantic import AfterValidator

from crm.api.schemas.common import Id, PageQuery, SearchText, django_checked, text
from crm.forms import PHONE_VALIDATOR, normalise_domain, normalise_website

TierLetter = Literal["A", "B", "C"]


class CompanyOut(Schema):
    id: int
    name: str
    team_id: int
    owner_id: int | None
    domain: str
    website: str
    phone: str
    address: str
    country: str = Field(description="ISO 3166-1 alpha-2 code, or empty.")
    registration_number: str
    tier: TierLetter
    tier_locked: bool = Field(description="The tier was set by hand and is kept.")
    expected_value: Decimal | None = Field(
        description="Expected value in the reporting currency at the last tier recompute."
    )
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_country(company) -> str:
        return company.country.code or ""


class CompanyPage(Schema):
    results: list[CompanyOut]
    next_cursor: str | None


class CompanyQuery(PageQuery):
    """The company list's filters (those of the Companies page) and order."""

    q: SearchText | None = Field(None, description="Name or web domain contains.")
    tier: list[TierLetter] = Field([], description="Any of these tiers (repeat the key).")
    team: Id | None = None
    owner: Annotated[str, Field(pattern=r"^(me|none|[1-9][0-9]{0,17})$")] | None = Field(
        None, description="me, none (nobody) or a user id."
    )
    order: Literal[
        "name", "-name", "id", "-id", "created_at", "-created_at", "updated_at", "-updated_at"
    ] = "name"


def _country(code: str) -> str:
    code = code.upper()
    if code and code not in dict(countries):
        raise ValueError("Use an ISO 3166-1 alpha-2 country code, like DK.")
    return code


def _website(value: str) -> str:
    if value:
        URLValidator(schemes=["http", "https"])(value if "://" in value else f"https://{value}")
    return normalise_website(value if not value or "://" in value else f"https://{value}")


Domain = Annotated[text(200), django_checked(normalise_domain)]
Website = Annotated[text(200), django_checked(_website)]
Phone = Annotated[text(40), django_checked(PHONE_VALIDATOR)]
Country = Annotated[text(2), AfterValidator(_country)]


class CompanyCreate(Schema):
    """A new company. `team` may be left out by someone in one team only; `owner` left out:
    whoever adds it. Giving it to someone else needs a manager of the team; `tier` (set by
    hand and kept) too."""

    name: text(200, min_length=1)
    team: Id | None = None
    owner: Id | None = None
    domain: Domain = Field("", description="Left empty, taken from the website.")
    website: Website = ""
    phone: Phone = ""
    address: text(500) = ""
    country: Country = ""
    registration_number: text(40) = ""
    tier: TierLetter | None = Field(None, description="Set by hand; null: computed.")
    confirm_duplicate: bool = Field(
        False,
        description="Add it even if a visible company of the team has the same name or web "
        "domain (without it, such a request is answered 409 `duplicate` with the look-alikes).",
    )


class CompanyChange(Schema):
    """Change a company: only the fields sent change. `owner` and `team` null: nobody / not
    allowed; `tier` null: computed again, a letter: set by hand."""

    name: text(200, min_length=1) = None
    team: Id = None
    owner: Id | None = None
    domain: Domain = None
    website: Website = None
    phone: Phone = None
    address: text(500) = None
    country: Country = None
    registration_number: text(40) = None
    tier: TierLetter | None = None
    confirm_duplicate: bool = False
