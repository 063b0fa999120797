from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        # Imported here, not at module level: checks.py and selectors.py read the models,
        # which exist only once the app registry is ready.
        from governance.selectors import register_last_backup_reader

        from . import checks, selectors  # noqa: F401  checks registers the durability checks

        register_last_backup_reader(selectors.last_successful_backup)
