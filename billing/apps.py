from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from common import limits

        from . import services, stores  # noqa: F401  (stores registers the KPI and priors stores)

        limits.register(services.entitlement_enforce)
