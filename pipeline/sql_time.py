"""Small SQL building blocks for time arithmetic that PostgreSQL and SQLite spell differently,
shared by the analytics' derived tables (pipeline.services.analytics) and their reads
(pipeline.selectors.analytics)."""

from __future__ import annotations

from django.db import connection

from crm.organisation import organisation_zone


def seconds_between_sql(later: str, earlier: str) -> str:
    """SQL for the whole seconds from `earlier` to `later` (timestamp expressions without
    parameters: each appears twice), never below 0, NULL when either is."""
    if connection.vendor == "postgresql":
        diff = f"FLOOR(EXTRACT(EPOCH FROM ({later}) - ({earlier})))::bigint"
    else:
        epoch = "CAST(strftime('%%s', {}) AS INTEGER)"
        diff = f"({epoch.format(later)} - {epoch.format(earlier)})"
    return f"(CASE WHEN ({later}) < ({earlier}) THEN 0 ELSE {diff} END)"


def whole_days_sql(seconds: str) -> str:
    """SQL for the whole days (rounded down) of a non-negative number of seconds."""
    return f"(({seconds}) / 86400)"


def month_sql(column: str) -> tuple[str, list]:
    """SQL (and its parameters) for the first day of the month of a timestamp column, in the
    organisation's time zone."""
    zone = organisation_zone().key
    sql, params = connection.ops.datetime_trunc_sql("month", column, (), zone)
    if connection.vendor == "postgresql":
        return f"({sql})::date", list(params)
    return f"date({sql})", list(params)
