"""The stage visits copy the deal's columns the analytics pages filter on, and are summed per
month (StageMonth). Existing visits are dropped: the next refresh rebuilds everything (its
fingerprint of the stage order now includes the time zone and the table's version)."""

from django.db import migrations


def forget_visits(apps, schema_editor):
    apps.get_model("pipeline", "StageVisit").objects.all().delete()
    apps.get_model("pipeline", "AnalyticsRefresh").objects.update(stage_order="")


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0011_analytics_stage_visits")]

    operations = [migrations.RunPython(forget_visits, migrations.RunPython.noop)]
