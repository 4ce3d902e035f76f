"""`manage.py loadtest`: A mixed-action load on one board through gunicorn and PostgreSQL.

The work is in crm/devtools/loadtest.py."""

from crm.devtools.loadtest import Command  # noqa: F401
