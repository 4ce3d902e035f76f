from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        # Registers the Celery tasks, which the services queue by name (crm.broker).
        from webhooks import tasks  # noqa: F401
