from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Companies and contacts")

    def ready(self):
        # Registers the deployment checks, and the Celery tasks, which the services queue by
        # name (crm.broker).
        from crm import checks, collation, tasks  # noqa: F401

        # Sorting by name in the page's language: which ICU collations PostgreSQL has, and
        # the same names on SQLite (crm/collation.py).
        collation.install()
