"""Tell PostgreSQL that a deal's stage decides its pipeline (extended statistics).

The board reads each column's first cards with `stage_id = <column>` and, from the visibility
rule and the board itself, `pipeline_id = <board>`. Without this, the planner multiplies the
two selectivities as if they were independent: on a database holding other pipelines (1.3M
deals in `make bench`'s database after its scan and analytics fixtures) it expected a
column's deals of this pipeline to be a handful, read all 16,674 deals of each of the six
columns through the totals index and sorted them (41 ms at 100k open deals) instead of
walking the column's (stage, position) index to its first 13 (1.5 ms). With the dependency
known it walks the index. PostgreSQL only; ANALYZE fills the statistics at once.
"""

from django.db import migrations

NAME = "deal_stage_pipeline_dependency"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE STATISTICS IF NOT EXISTS {NAME} (dependencies) "
        "ON stage_id, pipeline_id FROM pipeline_deal"
    )
    schema_editor.execute("ANALYZE pipeline_deal")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0023_review_indexes_by_pipeline")]

    operations = [migrations.RunPython(create, drop)]
