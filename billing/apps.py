from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from . import stores  # noqa: F401  (registers the KPI, priors and log stores)
