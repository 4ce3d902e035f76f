from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Companies and contacts")

    def ready(self):
        from crm import checks  # noqa: F401 - registers the deployment checks
