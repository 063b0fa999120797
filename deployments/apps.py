from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        from common import indexing, panels

        from . import selectors, sync_pages, views

        indexing.register_artifact_source(selectors.artifact_versions_for_index)
        indexing.register_repo_source(selectors.repos_for_index, selectors.repo_reader_for_index)

        for order, (name, title, provider) in enumerate(
            [
                ("previews", "Previews", views.previews_panel),
                ("deployments", "Deployments", views.deployments_panel),
                ("runs", "Runs", views.runs_panel),
                ("artifacts", "Artifacts", views.artifacts_panel),
            ],
            start=20,
        ):
            panels.register(
                panels.Panel("project", name, title, f"deployments/_{name}.html", provider, order)
            )
        panels.register(
            panels.Panel(
                "project",
                "repo-sync",
                "Repository",
                "deployments/_repo_sync.html",
                sync_pages.repo_sync_panel,
                15,
            )
        )
