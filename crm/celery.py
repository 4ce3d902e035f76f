"""The Celery app. Settings live in crm/settings.py under the CELERY_ namespace."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def keep_django_logging(**kwargs) -> None:
    """Workers and beat log through settings.LOGGING (one format, LOG_FORMAT=json included)
    instead of replacing the root logger's handlers with Celery's own: a receiver of this
    signal tells Celery to leave logging alone."""
