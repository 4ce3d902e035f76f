"""Indexes for the weekly review's first rows (pipeline/selectors/review.py), so a section's
first page is read from an index instead of sorting every deal of the team:

- "closing soon" and "closing in weeks 3 and 4": open deals by expected close date (a model
  index);
- "no next step, or an overdue one": open deals by next step's due date with the ones that
  have none first, the section's order. On PostgreSQL only, as SQL: SQLite's CREATE INDEX
  does not take NULLS FIRST (and the embedded default's teams are small).
"""

from django.db import migrations, models

NEXT_DUE_NONE_FIRST = (
    "CREATE INDEX IF NOT EXISTS deal_open_next_due_none_first "
    "ON pipeline_deal (next_step_due ASC NULLS FIRST) WHERE status = 'open'"
)


def create_next_due_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NEXT_DUE_NONE_FIRST)


def drop_next_due_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS deal_open_next_due_none_first")


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0020_flags_derived_attention_summary_notifications"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("status", "open")),
                fields=["expected_close_date"],
                name="deal_open_close_date",
            ),
        ),
        migrations.RunPython(create_next_due_index, drop_next_due_index),
    ]
