from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self):
        # Registers the Celery tasks, which the services queue by name (crm.broker).
        from pipeline import tasks  # noqa: F401
