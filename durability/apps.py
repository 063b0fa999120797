from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        from governance.selectors import register_last_backup_reader

        from . import checks, selectors  # noqa: F401  checks registers the durability checks

        register_last_backup_reader(selectors.last_successful_backup)
