"""Run the periodic flag scan once, in this process, the way the Celery worker's task does,
and print the result as JSON. `manage.py bench` runs it as a subprocess to time the scan and
measure the worker's peak memory; it is also handy for catching up by hand after an outage.

    python manage.py flags_scan_once
    {"raised": 12, "resolved": 3, "notified": 2, "seconds": 0.41, "max_rss_kb": 61234}
"""

from __future__ import annotations

import json
import resource
import time

from django.core.management.base import BaseCommand

from pipeline import services


class Command(BaseCommand):
    help = "Run services.flags_scan() once and print the result as JSON."

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        result = services.flags_scan()
        elapsed = time.perf_counter() - started
        payload = {
            "raised": result.raised,
            "resolved": result.resolved,
            "notified": result.notified,
            "seconds": round(elapsed, 3),
            # Linux reports kilobytes: the peak of this process, start-up included.
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        self.stdout.write(json.dumps(payload))
