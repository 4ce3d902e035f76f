"""Autovacuum the stage visits early. The analytics pages read the visits at a period's edges
and the running stays from covering indexes alone, which needs the table's visibility map to
be current: with the default thresholds (20 % of a million rows) the refreshes' rewritten
visits would send every read back to the table for weeks. PostgreSQL only."""

from django.db import migrations

TABLES = ("pipeline_stagevisit", "pipeline_stagemonth")


def tune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.01, "
            "autovacuum_vacuum_insert_scale_factor = 0.01, "
            "autovacuum_analyze_scale_factor = 0.02)"
        )


def untune(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0013_analytics_months_schema")]

    operations = [migrations.RunPython(tune, untune)]
