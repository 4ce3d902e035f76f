"""`manage.py bench_analytics`: Time the analytics pages over 100k deals and 1M stage changes.

The work is in crm/devtools/bench_analytics.py."""

from crm.devtools.bench_analytics import Command  # noqa: F401
