from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    name = "crm.devtools"
    label = "devtools"
    verbose_name = "Demo data and benchmarks"
