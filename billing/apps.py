from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from common import credits, limits

        from . import ports, services, stores  # noqa: F401  (stores registers KPI/priors stores)

        limits.register(services.entitlement_enforce)
        credits.register(ports.spend_workspace_credits)
