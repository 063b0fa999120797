from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "governance.durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        from governance.durability import checks  # noqa: F401
