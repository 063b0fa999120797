"""Celery tasks of the knowledge index: thin, ids in, one service call each."""

import logging

from celery import shared_task

from .embeddings import EmbeddingError

logger = logging.getLogger(__name__)

# Every ingestion task: re-delivered if its worker dies, retried with backoff while the
# embedder is unavailable (each is idempotent, so a second run does no new work).
INGEST_TASK = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (EmbeddingError,),
    "retry_backoff": True,
    "max_retries": 5,
    "ignore_result": True,
}


@shared_task(
    name="vectors.ingest_file",
    **INGEST_TASK,
)
def ingest_file(self, file_id: str) -> str:
    """Ingest one project file; idempotent per (sha256, extraction version)."""
    from . import services

    file = services.file_ingest(file_id=file_id)
    return "missing" if file is None else file.status


@shared_task(
    name="vectors.ingest_artifact",
    **INGEST_TASK,
)
def ingest_artifact(self, artifact_id: str, **payload) -> int:
    """Index one artifact version; a version already indexed is left alone."""
    from . import services

    return services.artifact_ingest(artifact_id=artifact_id, **payload)


@shared_task(
    name="vectors.ingest_repo",
    **INGEST_TASK,
)
def ingest_repo(self, repo_id: str, *, project_id: str, commit_sha: str = "") -> int:
    """Index a repository's synced commit; unchanged blobs cost nothing."""
    from . import repos

    return repos.repo_ingest(
        repo_id=repo_id, project_id=project_id, commit_sha=commit_sha
    ).chunks_written


@shared_task(name="vectors.recall_audit", acks_late=True, ignore_result=True, expires=3600)
def recall_audit() -> int:
    """Sample stored queries per namespace and record recall@k against the exact scan."""
    from . import services

    return len(services.recall_audit_run())
