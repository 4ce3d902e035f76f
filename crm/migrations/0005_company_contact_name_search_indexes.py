"""Indexes for the company and contact pickers' search (crm/selectors/pickers.py), on
PostgreSQL only.

The pickers ask two things of a name, case-insensitively (Django's `istartswith` and
`icontains`, which PostgreSQL runs as `UPPER(name::text) LIKE UPPER(...)`):

- names that start with the text, in order: a B-tree on `UPPER(name) COLLATE "C"`. Byte
  order (collation C) lets PostgreSQL turn `LIKE 'ACME%'` into a range of this index
  whatever the database's collation, and the pickers sort by the same expression
  (`crm.selectors.pickers.NameKey`), so the first 21 rows are read in order, not sorted
  from every match (a one-letter search matches thousands of names);
- names that contain it: a trigram GIN index (`pg_trgm`, a trusted extension since
  PostgreSQL 13, so the database owner may create it).

Both are written as SQL rather than model indexes: operator classes and GIN do not exist on
SQLite, where the searches just scan (the embedded default holds few companies).
"""

from django.db import migrations

INDEXES = {
    "crm_company_name_prefix": (
        "CREATE INDEX IF NOT EXISTS crm_company_name_prefix "
        "ON crm_company ((UPPER(name) COLLATE \"C\"))"
    ),
    "crm_company_name_trgm": (
        "CREATE INDEX IF NOT EXISTS crm_company_name_trgm "
        "ON crm_company USING gin (UPPER(name) gin_trgm_ops)"
    ),
    "crm_contact_name_prefix": (
        "CREATE INDEX IF NOT EXISTS crm_contact_name_prefix "
        "ON crm_contact ((UPPER(name) COLLATE \"C\"))"
    ),
    "crm_contact_name_trgm": (
        "CREATE INDEX IF NOT EXISTS crm_contact_name_trgm "
        "ON crm_contact USING gin (UPPER(name) gin_trgm_ops)"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for sql in INDEXES.values():
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_company_add_address_and_registration"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
