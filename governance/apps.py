from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from . import checks, history, thirdparty  # noqa: F401  thirdparty registers models we do not own

        register(checks.data_class_rules, "holdfast")
        register(checks.immutable_table_rules, Tags.database)
