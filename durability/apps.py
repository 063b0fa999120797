from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        from durability import checks  # noqa: F401
