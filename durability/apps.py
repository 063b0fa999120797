from django.apps import AppConfig


class DurabilityConfig(AppConfig):
    name = "durability"
    label = "durability"
    verbose_name = "Durability (backups, restore, schema versions)"

    def ready(self):
        # Registers the system checks; imported here because checks.py reads the models,
        # which exist only once the app registry is ready.
        from durability import checks  # noqa: F401
