"""`manage.py bench`: Time the board, the move, the manager pages, the flag scan and the snapshot.

The work is in crm/devtools/bench.py."""

from crm.devtools.bench import Command  # noqa: F401
