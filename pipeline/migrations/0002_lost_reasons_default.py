from django.db import migrations

DEFAULT_REASONS = [
    "Price too high",
    "Chose a competitor",
    "No budget",
    "No decision / went quiet",
    "Timing: not now",
    "Missing feature or fit",
    "Lost the champion",
    "Disqualified",
]


def add_defaults(apps, schema_editor):
    LostReason = apps.get_model("pipeline", "LostReason")
    for position, name in enumerate(DEFAULT_REASONS):
        LostReason.objects.get_or_create(name=name, defaults={"position": position})


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
