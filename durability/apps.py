from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        # Imported here, not at module level: checks, selectors and views read the models,
        # which exist only once the app registry is ready.
        from common import panels
        from governance.registry import register_backup_carrier
        from governance.selectors import register_last_backup_reader

        from . import checks, selectors, views  # noqa: F401  checks registers the checks
        from .services.scope import backup_carrier

        register_last_backup_reader(selectors.last_successful_backup)
        register_backup_carrier(backup_carrier)
        panels.register(
            panels.Panel(
                "workspace",
                "backup-health",
                "Backup health",
                "durability/_backup_health.html",
                views.backup_health_panel,
                order=20,
                lazy=True,
                fallback_url="backups/",
            )
        )
