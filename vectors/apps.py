from django.apps import AppConfig


class VectorsConfig(AppConfig):
    name = "vectors"
    verbose_name = "Vectors"

    def ready(self) -> None:
        from django.db import transaction

        from common import indexing, panels

        from . import tasks, views

        def on_file(file_id: str) -> None:
            transaction.on_commit(lambda: tasks.ingest_file.delay(file_id))

        def on_artifact(artifact_id: str, **payload) -> None:
            payload = {k: str(v) if k == "project_id" else v for k, v in payload.items()}
            transaction.on_commit(lambda: tasks.ingest_artifact.delay(artifact_id, **payload))

        def on_repo(repo_id: str, *, project_id: str, commit_sha: str) -> None:
            transaction.on_commit(
                lambda: tasks.ingest_repo.delay(
                    repo_id, project_id=project_id, commit_sha=commit_sha
                )
            )

        indexing.register("file_uploaded", on_file)
        indexing.register("repo_synced", on_repo)
        indexing.register("artifact_version_created", on_artifact)
        panels.register(
            panels.Panel(
                "project",
                "knowledge",
                "Files",
                "vectors/_knowledge.html",
                views.knowledge_panel,
                15,
            )
        )
        panels.register(
            panels.Panel(
                "artifact",
                "citations",
                "Citations",
                "vectors/_artifact_citations.html",
                views.artifact_citations_panel,
            )
        )
