from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        from common import panels
        from durability import checks  # noqa: F401

        from . import views

        panels.register(
            panels.Panel(
                "workspace",
                "backup-health",
                "Backup health",
                "durability/_backup_health.html",
                views.backup_health_panel,
                order=20,
            )
        )
