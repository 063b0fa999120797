"""The local deploy provider's work: publish a deployment's content to the built-in static
host and walk it to `ready` (or `error`), and roll a deployment back by pointer.

The static host is the preview server (`/p/<slug>/`): each project and environment has one
host preview (`deploy-<project>-<env>`), and every deployment appends an immutable version
to it and points it there. Rolling back to an earlier deployment switches that pointer
(audited by `preview_rollback`); nothing is rebuilt or overwritten.

What a deployment publishes is `metadata.source`: `{"preview": slug, "version"?: n}` (that
preview's version, the active one by default) or `{"artifact": id}` (an HTML or JSON
artifact of the project). Without it: the project's most recent preview with an active
version, else its most recent artifact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.exceptions import Conflict, ServiceError, ValidationFailed

from ..models import (
    Artifact,
    Deployment,
    DeploymentStatus,
    Environment,
    Preview,
    PreviewVersion,
    PreviewVisibility,
)
from ..selectors import read_blob
from ._common import _save
from .previews import preview_create, preview_rollback, preview_version_create

logger = logging.getLogger(__name__)

HOST_PREFIX = "deploy-"
# A build this old was claimed by a worker that died; the next attempt may take it over.
STALE_BUILD = timedelta(minutes=10)
# A queued deployment this old lost its task message; the beat's refresh publishes it.
LOST_TASK = timedelta(minutes=2)


class NothingToPublish(ServiceError):
    pass


def host_slug(project, environment: str) -> str:
    return f"{HOST_PREFIX}{project.pk.hex[:12]}-{'prod' if environment == 'production' else 'prev'}"


def deployment_url(slug: str) -> str:
    base = (settings.PREVIEW_BASE_URL or settings.SITE_URL).rstrip("/")
    return f"{base}/p/{slug}/"


def resolve_source(project, source) -> dict:
    """The immutable thing a new local deployment will publish, fixed at creation (the
    deployment row is frozen once written): `{"preview": slug, "version": n}` or
    `{"artifact": id}`. A 400 on `metadata` when there is nothing to publish."""
    if source is None:
        source = {}
    if not isinstance(source, dict):
        raise ValidationFailed(
            "metadata.source is an object naming a preview or an artifact.", field="metadata"
        )
    if source.get("artifact"):
        artifact = Artifact.objects.filter(project=project, pk=_uuid(source["artifact"])).first()
        if artifact is None:
            raise ValidationFailed(
                "metadata.source.artifact is not an artifact of this project.", field="metadata"
            )
        return {"artifact": str(artifact.pk)}
    if source.get("preview"):
        preview = Preview.objects.filter(project=project, slug=str(source["preview"])).first()
        if preview is None:
            raise ValidationFailed(
                "metadata.source.preview is not a preview of this project.", field="metadata"
            )
        number = source.get("version") or preview.active_version
    else:
        preview = (
            Preview.objects.filter(project=project, active_version__isnull=False)
            .exclude(slug__startswith=HOST_PREFIX)
            .order_by("-updated_at")
            .first()
        )
        if preview is None:
            artifact = Artifact.objects.filter(project=project).order_by("-created_at").first()
            if artifact is None:
                raise ValidationFailed(
                    "Nothing to publish: the project has no preview version or artifact.",
                    field="metadata",
                )
            return {"artifact": str(artifact.pk)}
        number = preview.active_version
    if (
        not isinstance(number, int)
        or not PreviewVersion.objects.filter(preview=preview, version=number).exists()
    ):
        raise ValidationFailed(f"Preview {preview.slug} has no such version.", field="metadata")
    return {"preview": preview.slug, "version": number}


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _source_content(deployment: Deployment):
    """The content this deployment publishes (from its frozen `metadata.source`)."""
    project = deployment.project
    source = (deployment.metadata or {}).get("source") or {}
    if source.get("artifact"):
        artifact = Artifact.objects.filter(project=project, pk=_uuid(source["artifact"])).first()
        if artifact is None:
            raise NothingToPublish("The artifact this deployment publishes is gone.")
        return _artifact_content(artifact)
    preview = Preview.objects.filter(project=project, slug=source.get("preview", "")).first()
    version = (
        PreviewVersion.objects.filter(preview=preview, version=source.get("version")).first()
        if preview is not None
        else None
    )
    if version is None:
        raise NothingToPublish("The preview version this deployment publishes is gone.")
    return json.loads(read_blob(version.blob_path, sha256=version.sha256))


def _content_sha256(content) -> str:
    """The sha256 `preview_version_create` gives this content's blob."""
    data = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _artifact_content(artifact: Artifact):
    data = read_blob(artifact.blob_path, sha256=artifact.sha256)
    kind = (artifact.content_type or "").split(";", 1)[0].strip().lower()
    if kind == "text/html":
        return {"html": data.decode("utf-8", "replace")}
    if kind == "application/json":
        return json.loads(data)
    raise NothingToPublish(
        f"Artifact {artifact.kind}/{artifact.logical_key} is {kind or 'untyped'}; "
        "the static host serves HTML or JSON."
    )


def _host_preview(deployment: Deployment) -> Preview:
    slug = host_slug(deployment.project, deployment.environment)
    host = Preview.objects.filter(slug=slug).first()
    if host is None:
        visibility = (
            PreviewVisibility.PUBLIC
            if deployment.environment == Environment.PRODUCTION
            else PreviewVisibility.TEAM
        )
        host = preview_create(
            project=deployment.project, slug=slug, actor=deployment.created_by,
            visibility=visibility,
        )  # fmt: skip
    return host


def deployment_publish_local(*, deployment_id) -> Deployment | None:
    """Publish a queued local deployment (the Celery task calls this; safe to repeat: a
    deployment past `building` is left alone)."""
    from .releases import deployment_transition

    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update()
            .select_related("project", "project__workspace")
            .filter(pk=deployment_id, provider="local")
            .first()
        )
        if deployment is None:
            return None
        stale = deployment.updated_at < timezone.now() - STALE_BUILD
        if not (
            deployment.status == DeploymentStatus.QUEUED
            or (deployment.status == DeploymentStatus.BUILDING and stale)
        ):
            return deployment  # finished, or another worker is publishing it right now
        if deployment.status == DeploymentStatus.QUEUED:
            deployment = deployment_transition(deployment=deployment, status="building")
        else:
            _save(deployment, None, ["updated_at"])  # re-claim a build whose worker died
    try:
        with transaction.atomic():
            content = _source_content(deployment)
            host = _host_preview(deployment)
            deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
            if deployment.status != DeploymentStatus.BUILDING:
                return deployment  # cancelled meanwhile: publish nothing
            preview_version_create(preview=host, content=content, actor=deployment.created_by)
            deployment = deployment_transition(deployment=deployment, status="ready")
    except (ServiceError, ValueError, OSError) as exc:
        logger.warning("local deployment %s failed: %s", deployment.pk, exc)
        message = getattr(exc, "message", None) or str(exc)
        deployment = deployment_transition(deployment=deployment, status="error", error=message)
    return deployment


def deployment_rollback(*, deployment: Deployment, actor) -> Deployment:
    """Serve this (earlier, ready) local deployment again: the host preview's pointer moves
    back to the version holding its content. Admins and owners only (`preview_rollback`
    checks, and audits the switch)."""
    if deployment.provider != "local":
        raise Conflict("Only a local deployment can be rolled back to.", field="status")
    if deployment.status != DeploymentStatus.READY:
        raise Conflict("Only a ready deployment can be rolled back to.", field="status")
    host = Preview.objects.filter(
        slug=host_slug(deployment.project, deployment.environment)
    ).first()
    try:
        digest = _content_sha256(_source_content(deployment))
    except NothingToPublish as exc:
        raise Conflict(exc.message, field="status")
    version = (
        PreviewVersion.objects.filter(preview=host, sha256=digest).order_by("-version").first()
        if host is not None
        else None
    )
    if version is None:
        raise Conflict("The static host no longer holds this deployment.", field="status")
    preview_rollback(preview=host, version=version.version, actor=actor)
    return deployment


def enqueue_publish(deployment: Deployment) -> None:
    from ..tasks import publish_local_deployment

    pk = str(deployment.pk)
    transaction.on_commit(lambda: publish_local_deployment.delay(pk))
