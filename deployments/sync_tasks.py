"""Celery tasks of repository sync, agent runs and exports: thin, ids in, one service call."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

__all__ = [
    "agent_run_execute",
    "agent_runs_tick",
    "expire_exports",
    "export_build",
    "prune_repo_deliveries",
    "repo_sync",
]


@shared_task(
    name="deployments.repo_sync", bind=True, acks_late=True, max_retries=5, ignore_result=True
)
def repo_sync(self, repo_id: str, delivery_id: str = "") -> str:
    """Sync a repository's caches to its branch head; safe to run twice (it converges)."""
    from .git import GitError
    from .services import repo_sync as sync

    try:
        return sync.repo_sync_run(repo_id=repo_id, delivery_id=delivery_id or None)
    except GitError as exc:
        logger.warning("repo %s: sync failed: %s", repo_id, exc)
        raise self.retry(countdown=min(300, 10 * 2**self.request.retries))


@shared_task(name="deployments.prune_repo_deliveries", ignore_result=True)
def prune_repo_deliveries() -> int:
    from .services import repo_sync as sync

    return sync.deliveries_prune()


@shared_task(name="deployments.agent_run_execute", acks_late=True, ignore_result=True)
def agent_run_execute(run_id: str) -> str:
    from .services import agent_runs

    run = agent_runs.agent_run_execute(run_id=run_id)
    return run.status if run else "missing"


@shared_task(name="deployments.agent_runs_tick", ignore_result=True)
def agent_runs_tick() -> int:
    """Run due queued agent runs (retries whose backoff has passed), highest priority first."""
    from .services import agent_runs

    return agent_runs.agent_runs_process(limit=20)


@shared_task(name="deployments.export_build", acks_late=True, ignore_result=True)
def export_build(job_id: str) -> str:
    from .services import exports

    job = exports.export_build(job_id=job_id)
    return job.status if job else "missing"


@shared_task(name="deployments.expire_exports", ignore_result=True)
def expire_exports() -> int:
    from .services import exports

    return exports.exports_expire()
