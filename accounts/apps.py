from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # schema registers the OpenAPI auth extension; stores the axes tables and mail folder.
        from . import schema, stores  # noqa: F401
