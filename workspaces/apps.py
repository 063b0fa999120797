from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from common import panels

        from . import views

        panels.register(
            panels.Panel(
                "workspace",
                "activity",
                "Recent activity",
                "workspaces/_activity.html",
                views.activity_panel,
                order=30,
                lazy=True,
                fallback_url="history/",
            )
        )
