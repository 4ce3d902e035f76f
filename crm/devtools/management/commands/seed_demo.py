"""`manage.py seed_demo`: the demo organisation: teams, people, pipelines, deals,
history.

The work is in crm/devtools/demo.py."""

from crm.devtools.demo import Command  # noqa: F401
