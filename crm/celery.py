"""The Celery app. Settings live in crm/settings.py under the CELERY_ namespace."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def keep_django_logging(**kwargs) -> None:
    """Workers and beat log through settings.LOGGING (one format, LOG_FORMAT=json included)
    instead of replacing the root logger's handlers with Celery's own: a receiver of this
    signal tells Celery to leave logging alone."""


@task_prerun.connect
def read_shared_versions_once_per_task(**kwargs) -> None:
    """A task, like a request, reads the shared versions (crm/shared.py) once, at their first
    use: a scan over a million deals must not ask the cache whether the rates moved per deal."""
    from crm.shared import versions_read_once

    versions_read_once()


@task_postrun.connect
def forget_shared_versions_after_task(**kwargs) -> None:
    from crm.shared import versions_read_always

    versions_read_always()
