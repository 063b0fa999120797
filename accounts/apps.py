from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.core.checks import Tags, register

        # schema registers the OpenAPI auth extension; stores the axes tables, the mail
        # folder and the graph-projection cache.
        from . import checks, schema, stores  # noqa: F401

        register(checks.identity_trigger_rules, Tags.database)
