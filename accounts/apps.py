from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        # tasks: registers the Celery tasks, which the services queue by name (crm.broker).
        from accounts import signals, tasks  # noqa: F401

        signals.connect()
