"""Contacts: the answer, the list's filters and order, the create and change bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.core.validators import validate_email
from ninja import Field, Schema

from crm.api.schemas.common import Id, PageQuery, SearchText, django_checked, text
from crm.api.schemas.companies import Phone

Email = Annotated[text(254), django_checked(lambda v: validate_email(v) if v else None)]


class ContactOut(Schema):
    id: int
    company_id: int
    name: str
    email: str
    phone: str
    title: str = Field(description="Job title.")
    created_at: datetime
    updated_at: datetime


class ContactPage(Schema):
    results: list[ContactOut]
    next_cursor: str | None


class ContactQuery(PageQuery):
    """The contact list's filters (those of the Contacts page) and order."""

    q: SearchText | None = Field(None, description="Name, e-mail or company name contains.")
    company: Id | None = None
    order: Literal[
        "name", "-name", "id", "-id", "created_at", "-created_at", "updated_at", "-updated_at"
    ] = "name"


class ContactCreate(Schema):
    """A new contact, under a company the user may change."""

    company: Id
    name: text(200, min_length=1)
    email: Email = ""
    phone: Phone = ""
    title: text(120) = ""


class ContactChange(Schema):
    """Change a contact: only the fields sent change; `company` moves it to another company
    the user may change."""

    company: Id = None
    name: text(200, min_length=1) = None
    email: Email = None
    phone: Phone = None
    title: text(120) = None
