from __future__ import annotations

from django.core.management.base import BaseCommand

from pipeline import services


class Command(BaseCommand):
    help = "Take this week's forecast snapshot now (does nothing if it was taken already)."

    def handle(self, *args, **options) -> None:
        run = services.forecast_snapshot_take()
        if run is None:
            self.stdout.write("This week's snapshot exists already; nothing written.")
        else:
            self.stdout.write(f"Snapshot of week {run.week} taken: {run.deal_count} open deals.")
