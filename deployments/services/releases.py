"""Deployments through the deploy provider, and provisioned infrastructure resources."""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.utils import timezone

from accounts.models import CapabilityName
from accounts.selectors import capability_require
from common import events, limits
from common.exceptions import ValidationFailed
from workspaces.models import Project

from ..adapters import AdapterError, RepoRef
from ..adapters import provider as provider_adapter
from ..models import (
    DEPLOYMENT_TRANSITIONS,
    ApprovalScope,
    Deployment,
    DeploymentStatus,
    Environment,
    InfraResource,
    Repo,
    Run,
)
from ..redaction import redact, redact_text
from ._common import (
    IllegalTransition,
    ProviderFailed,
    _check_same_project,
    _existing,
    _lock_project,
    _save,
    _validate_slugish,
)
from .approvals import _approval_for_use, _approval_use, _guarded

logger = logging.getLogger(__name__)

COMMIT_SHA = re.compile(r"^[0-9a-f]{7,64}$")

# --- deployments ---------------------------------------------------------------------------


def deployment_create(
    *,
    project: Project,
    environment: str,
    commit_sha: str,
    actor,
    repo: Repo | None = None,
    run: Run | None = None,
    ref: str = "",
    metadata: dict | None = None,
    approval_id=None,
    payload: dict | None = None,
    idempotency_key: str = "",
) -> tuple[Deployment, bool]:
    """Ask the deploy provider for a deployment and record it. Production needs an approval
    of scope deploy.production for this exact payload. Returns (deployment, created).
    A user whose `deploy` capability an operator revoked is refused (403)."""
    if getattr(actor, "is_authenticated", False):
        capability_require(user=actor, capability=CapabilityName.DEPLOY, what="deployments")
    if environment not in Environment.values:
        raise ValidationFailed("Choose preview or production.", field="environment")
    if not COMMIT_SHA.match(commit_sha or ""):
        raise ValidationFailed("A commit sha is 7-64 lowercase hex digits.", field="commit_sha")
    _check_same_project(project, repo=repo, run=run)
    error = ""
    with transaction.atomic():
        _lock_project(project)
        existing = _existing(Deployment, project, idempotency_key)
        if existing is not None:
            return existing, False
        approval = None
        if environment == Environment.PRODUCTION:
            approval = _approval_for_use(
                project=project,
                approval_id=approval_id,
                scope=ApprovalScope.DEPLOY_PRODUCTION,
                payload=payload if payload is not None else {},
            )
        limits.enforce("deploys_per_day", team=project.workspace.team, project=project)
        adapter = provider_adapter.get_adapter()
        local_url = ""
        if adapter.name == "local":
            from .local_deploy import deployment_url, host_slug, resolve_source

            metadata = {**(metadata or {}), "source": resolve_source(
                project, (metadata or {}).get("source"))}  # fmt: skip
            local_url = deployment_url(host_slug(project, environment))
        try:
            remote = adapter.create_deployment(
                project_name=project.slug,
                environment=environment,
                commit_sha=commit_sha,
                repo=RepoRef(repo.owner, repo.name) if repo is not None else None,
                ref=ref or (repo.default_branch if repo is not None else ""),
            )
        except AdapterError as exc:
            error = redact_text(str(exc))
        else:
            now = timezone.now()
            status = remote.status if remote.status in DeploymentStatus.values else "queued"
            terminal = not DEPLOYMENT_TRANSITIONS[status]
            deployment = Deployment(
                project=project,
                run=run,
                repo=repo,
                environment=environment,
                provider=adapter.name,
                external_project_id=remote.external_project_id,
                external_deployment_id=remote.external_deployment_id,
                url=remote.url or local_url,
                status=status,
                commit_sha=commit_sha,
                started_at=now if status != DeploymentStatus.QUEUED else None,
                ended_at=now if terminal else None,
                error=redact_text(remote.error),
                metadata=redact({**(metadata or {}), "ref": ref} if ref else (metadata or {})),
                approval=approval,
                created_by=actor,
                idempotency_key=idempotency_key,
            )
            _save(deployment, actor)
            if approval is not None:
                _approval_use(approval, actor=actor, used_for=f"deployment {deployment.pk}")
            if deployment.provider == "local" and deployment.status == DeploymentStatus.QUEUED:
                from .local_deploy import enqueue_publish

                enqueue_publish(deployment)
            return deployment, True
    raise ProviderFailed(error)


@transaction.atomic
def deployment_transition(*, deployment: Deployment, status: str, actor=None, error: str = ""):
    """Move a deployment forward through its state machine; anything else is refused."""
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if status not in DeploymentStatus.values:
        raise ValidationFailed("Unknown deployment status.", field="status")
    allowed = DEPLOYMENT_TRANSITIONS[deployment.status]
    if status not in allowed:
        if not allowed:
            detail = f"{deployment.status} is final"
        else:
            detail = "allowed next: " + ", ".join(sorted(allowed))
        raise IllegalTransition(
            f"A deployment cannot go from {deployment.status} to {status} ({detail}).",
            field="status",
        )
    now = timezone.now()
    fields = ["status"]
    deployment.status = status
    if deployment.started_at is None:
        deployment.started_at = now
        fields.append("started_at")
    if not DEPLOYMENT_TRANSITIONS[status]:
        deployment.ended_at = now
        fields.append("ended_at")
    if error:
        deployment.error = redact_text(error)[:10000]
        fields.append("error")
    _save(deployment, actor, fields)
    if status in (DeploymentStatus.READY, DeploymentStatus.ERROR):
        _announce(deployment)
    return deployment


def _announce(deployment: Deployment) -> None:
    """deployment.ready / deployment.failed: webhooks, and a notification to its creator."""
    ready = deployment.status == DeploymentStatus.READY
    project = deployment.project
    events.emit(
        "deployment.ready" if ready else "deployment.failed",
        workspace_id=project.workspace_id,
        data={
            "id": str(deployment.pk),
            "project": str(project.pk),
            "environment": deployment.environment,
            "status": deployment.status,
            "provider": deployment.provider,
            "commit_sha": deployment.commit_sha,
            "deployment_url": deployment.url,
            "error": deployment.error[:500],
        },
        summary=(
            f"{deployment.environment.title()} deployment of {project.name} "
            + ("is ready" if ready else f"failed: {deployment.error[:120]}")
        ),
        notify=[deployment.created_by_id],
        link=deployment.url if ready else "",
    )


def deployment_refresh(*, deployment: Deployment, actor=None) -> Deployment:
    """Ask the provider for the current status and move forward when it changed. A local
    deployment still waiting is published now (the beat's sweep for a lost task)."""
    if not DEPLOYMENT_TRANSITIONS[deployment.status]:
        return deployment
    if deployment.provider == "local":
        from .local_deploy import LOST_TASK, deployment_publish_local

        if deployment.updated_at > timezone.now() - LOST_TASK:
            return deployment  # its task is (most likely) still on the way
        return deployment_publish_local(deployment_id=deployment.pk) or deployment
    try:
        remote = provider_adapter.get_adapter().get_deployment(
            external_deployment_id=deployment.external_deployment_id
        )
    except AdapterError as exc:
        raise ProviderFailed(redact_text(str(exc)))
    if remote.status == deployment.status or remote.status not in DeploymentStatus.values:
        return deployment
    if remote.status not in DEPLOYMENT_TRANSITIONS[deployment.status]:
        logger.warning(
            "provider reported %s after %s for deployment %s; ignored",
            remote.status,
            deployment.status,
            deployment.pk,
        )
        return deployment
    return deployment_transition(
        deployment=deployment, status=remote.status, actor=actor, error=remote.error
    )


def deployment_cancel(*, deployment: Deployment, actor) -> Deployment:
    if DeploymentStatus.CANCELLED not in DEPLOYMENT_TRANSITIONS[deployment.status]:
        raise IllegalTransition(
            f"A {deployment.status} deployment cannot be cancelled.", field="status"
        )
    try:
        provider_adapter.get_adapter().cancel_deployment(
            external_deployment_id=deployment.external_deployment_id
        )
    except AdapterError as exc:
        raise ProviderFailed(redact_text(str(exc)))
    return deployment_transition(
        deployment=deployment, status=DeploymentStatus.CANCELLED, actor=actor
    )


# --- infrastructure ----------------------------------------------------------------------


def infra_provision(
    *,
    project: Project,
    resource_type: str,
    actor,
    approval_id,
    payload: dict,
    name: str = "",
    region: str = "",
    config: dict | None = None,
    run: Run | None = None,
    idempotency_key: str = "",
) -> tuple[InfraResource, bool]:
    """Provision a resource through the deploy provider; needs an infra.provision approval."""
    _validate_slugish(resource_type, "resource_type")
    _check_same_project(project, run=run)
    config = config or {}
    if redact(config) != config:
        raise ValidationFailed(
            "The config carries what looks like a secret; Holdfast never stores secrets.",
            field="config",
        )

    def perform(approval):
        adapter = provider_adapter.get_adapter()
        remote = adapter.provision_resource(
            resource_type=resource_type, name=name, region=region, config=config
        )
        resource = InfraResource(
            project=project,
            run=run,
            provider=adapter.name,
            resource_type=resource_type,
            name=name,
            external_id=remote.external_id,
            region=remote.region or region,
            metadata=redact({"config": config, **remote.metadata}),
            approval=approval,
            created_by=actor,
            idempotency_key=idempotency_key,
        )
        resource.full_clean(exclude=["approval", "run", "project", "created_by"])
        _save(resource, actor)
        _approval_use(approval, actor=actor, used_for=f"infra resource {resource.pk}")
        return resource

    resource, replayed = _guarded(
        project=project,
        scope=ApprovalScope.INFRA_PROVISION,
        payload=payload,
        approval_id=approval_id,
        actor=actor,
        perform=perform,
        existing=lambda: _existing(InfraResource, project, idempotency_key),
    )
    return resource, not replayed
