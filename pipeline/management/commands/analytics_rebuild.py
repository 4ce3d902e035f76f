"""Rebuild the analytics pages' stage visits from the whole stage history.

    python manage.py analytics_rebuild

Not needed in normal running (the beat task and the pages refresh what changed); for after a
restore or a bulk import written around the services.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from pipeline.services.analytics import analytics_refresh


class Command(BaseCommand):
    help = "Rebuild the analytics stage visits from the whole stage history."

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        analytics_refresh(full=True)
        if options["verbosity"]:
            self.stdout.write(f"Stage visits rebuilt in {time.perf_counter() - started:.1f} s.")
