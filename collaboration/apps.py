from django.apps import AppConfig


class CollaborationConfig(AppConfig):
    name = "collaboration"
    verbose_name = "Collaboration"

    def ready(self) -> None:
        from . import presence

        presence.register()
