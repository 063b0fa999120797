"""Celery tasks of the shipping pipeline: thin, ids in, one service call each."""

import logging

from celery import shared_task
from django.db import OperationalError

logger = logging.getLogger(__name__)


@shared_task(
    name="deployments.run_sandbox_job",
    bind=True,
    acks_late=True,  # a worker killed mid-job leaves the message to be delivered again
    reject_on_worker_lost=True,
    max_retries=20,
    ignore_result=True,
)
def run_sandbox_job(self, job_id: str) -> str:
    """Run one sandbox job. Safe to deliver twice: a finished job is left alone, and a job
    another worker holds is retried after that worker's lease runs out."""
    from . import services

    job, retry_in = services.sandbox_job_execute(job_id=job_id)
    if job is None:
        logger.warning("sandbox job %s does not exist; nothing to run", job_id)
        return "missing"
    if retry_in:
        raise self.retry(countdown=retry_in)
    return job.status


@shared_task(name="deployments.reap_sandbox_jobs", ignore_result=True)
def reap_sandbox_jobs() -> dict:
    """Fail jobs whose worker died; re-send queued jobs nobody picked up."""
    from . import services

    return services.sandbox_reap()


@shared_task(name="deployments.expire_approvals", ignore_result=True)
def expire_approvals() -> int:
    from . import services

    return services.approval_expire_stale()


@shared_task(
    name="deployments.publish_local_deployment",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def publish_local_deployment(deployment_id: str) -> str:
    """Publish a local deployment to the static host (idempotent: a finished one is left)."""
    from . import services

    deployment = services.deployment_publish_local(deployment_id=deployment_id)
    return deployment.status if deployment is not None else "missing"


@shared_task(name="deployments.refresh_deployments", ignore_result=True)
def refresh_deployments() -> int:
    """Poll the provider for deployments still queued or building."""
    from . import services
    from .models import Deployment, DeploymentStatus

    refreshed = 0
    pending = Deployment.objects.filter(
        status__in=[DeploymentStatus.QUEUED, DeploymentStatus.BUILDING]
    ).exclude(external_deployment_id="")
    for deployment in pending.iterator():
        try:
            services.deployment_refresh(deployment=deployment)
            refreshed += 1
        except services.ProviderFailed as exc:
            logger.warning("could not refresh deployment %s: %s", deployment.pk, exc)
    return refreshed


from .sync_tasks import *  # noqa: E402, F403  (repository sync, agent runs, exports)
