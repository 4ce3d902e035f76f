"""The weekly review's section indexes lead with the pipeline.

The first versions (0021) ordered every team's open deals by close date and by next step's
due date, and the review filtered by pipeline while walking them: with a million open deals
in another team's pipeline, the "no next step, or an overdue one" section walked 1.16M index
entries to find its team's first 20 (about 1 s, `make bench`'s review at 10k). Leading with
the pipeline, a section's first rows are a range of the index.

"No next step" keeps its NULLS FIRST order, on PostgreSQL only (SQLite's CREATE INDEX does not
take it, and the embedded default's teams are small).
"""

from django.db import migrations, models

PIPELINE_NEXT_DUE = (
    "CREATE INDEX IF NOT EXISTS deal_open_pipeline_next_due "
    "ON pipeline_deal (pipeline_id, next_step_due ASC NULLS FIRST) WHERE status = 'open'"
)
OLD_NEXT_DUE = (
    "CREATE INDEX IF NOT EXISTS deal_open_next_due_none_first "
    "ON pipeline_deal (next_step_due ASC NULLS FIRST) WHERE status = 'open'"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS deal_open_next_due_none_first")
        schema_editor.execute(PIPELINE_NEXT_DUE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS deal_open_pipeline_next_due")
        schema_editor.execute(OLD_NEXT_DUE)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0022_deal_pipeline_id_order_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="deal", name="deal_open_close_date"),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("status", "open")),
                fields=["pipeline", "expected_close_date"],
                name="deal_open_pipeline_close_date",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
