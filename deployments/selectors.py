"""Shipping-pipeline reads. Every function takes an already tenant-resolved project
(from `workspaces.selectors.project_get`), or resolves the tenant itself."""

from __future__ import annotations

import hashlib

from django.core.files.storage import default_storage
from django.db.models import Case, Exists, F, OuterRef, Prefetch, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from accounts.models import Role, role_at_least
from accounts.selectors import team_role
from common.exceptions import Conflict, NotFound
from workspaces.models import Project

from .models import (
    Approval,
    Artifact,
    Deployment,
    InfraResource,
    Preview,
    PreviewVersion,
    PreviewVisibility,
    Repo,
    Run,
    RunStep,
    SandboxJob,
)


def repo_list(*, project: Project) -> QuerySet[Repo]:
    return Repo.objects.filter(project=project).order_by("owner", "name")


def run_list(*, project: Project) -> QuerySet[Run]:
    return Run.objects.filter(project=project).order_by("-created_at")


def step_list(*, run: Run) -> QuerySet[RunStep]:
    return RunStep.objects.filter(run=run).order_by("created_at")


def artifact_list(
    *,
    project: Project,
    kind: str | None = None,
    logical_key: str | None = None,
    latest: bool = False,
) -> QuerySet[Artifact]:
    """The project's artifacts, optionally only the newest version of each key."""
    qs = artifact_latest(project=project) if latest else Artifact.objects.filter(project=project)
    if kind:
        qs = qs.filter(kind=kind)
    if logical_key:
        qs = qs.filter(logical_key=logical_key)
    return qs.order_by("kind", "logical_key", "-version")


def artifact_latest(*, project: Project) -> QuerySet[Artifact]:
    """The newest version of every (kind, logical_key) in the project."""
    newer = Artifact.objects.filter(
        project=project,
        kind=OuterRef("kind"),
        logical_key=OuterRef("logical_key"),
        version__gt=OuterRef("version"),
    )
    return (
        Artifact.objects.filter(project=project)
        .exclude(Exists(newer))
        .order_by("kind", "logical_key")
    )


def approval_list(
    *, project: Project, status: str | None = None, scope: str | None = None
) -> QuerySet[Approval]:
    qs = Approval.objects.filter(project=project).select_related(
        "requested_by", "approved_by", "rejected_by"
    )
    if status:
        qs = qs.filter(status=status)
    if scope:
        qs = qs.filter(scope=scope)
    return qs.order_by("-created_at")


def sandbox_job_list(*, project: Project, status: str | None = None) -> QuerySet[SandboxJob]:
    qs = SandboxJob.objects.filter(project=project)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")


def deployment_list(
    *, project: Project, environment: str | None = None, status: str | None = None
) -> QuerySet[Deployment]:
    qs = Deployment.objects.filter(project=project)
    if environment:
        qs = qs.filter(environment=environment)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")


def preview_list(*, project: Project) -> QuerySet[Preview]:
    return Preview.objects.filter(project=project).order_by("slug")


def preview_version_list(*, preview: Preview) -> QuerySet[PreviewVersion]:
    return PreviewVersion.objects.filter(preview=preview).order_by("-version")


def infra_resource_list(*, project: Project) -> QuerySet[InfraResource]:
    return InfraResource.objects.filter(project=project).order_by("-created_at")


def read_blob(path: str, *, sha256: str) -> bytes:
    """A blob's bytes, checked against the sha256 its row recorded."""
    try:
        with default_storage.open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise NotFound("The stored content is missing.")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Conflict("The stored content does not match its checksum.", code="corrupt_blob")
    return data


def preview_for_viewer(*, slug: str, user) -> tuple[Preview, PreviewVersion]:
    """The preview `slug` and its active version if `user` may see it; 404 otherwise, so a
    preview's existence is not leaked to those its visibility excludes."""
    preview = Preview.objects.select_related("workspace").filter(slug=slug).first()
    if preview is None or preview.active_version is None:
        raise NotFound("Preview not found.")
    if preview.visibility != PreviewVisibility.PUBLIC:
        if not user.is_authenticated:
            raise NotFound("Preview not found.")
        role = team_role(user=user, team_id=preview.workspace.team_id)
        allowed = role is not None and (
            preview.visibility == PreviewVisibility.TEAM
            or preview.created_by_id == user.pk
            or role_at_least(role, Role.ADMIN)
        )
        if not allowed:
            raise NotFound("Preview not found.")
    version = PreviewVersion.objects.get(preview=preview, version=preview.active_version)
    return preview, version


# --- the pages' reads (workspace-wide inbox, project page sections) ------------------------


def approval_inbox(*, workspace, status: str | None = None) -> QuerySet[Approval]:
    """Every approval request in the workspace's projects, pending first, newest first."""
    qs = Approval.objects.filter(project__workspace=workspace).select_related(
        "project", "requested_by", "approved_by", "rejected_by"
    )
    if status:
        qs = qs.filter(status=status)
    pending_first = Case(When(status="pending", then=Value(0)), default=Value(1))
    return qs.order_by(pending_first, "-created_at")


def approval_get(*, workspace, approval_id) -> Approval:
    approval = approval_inbox(workspace=workspace).filter(pk=approval_id).first()
    if approval is None:
        raise NotFound("Approval not found.")
    return approval


def previews_with_versions(*, project: Project, versions_shown: int = 10) -> QuerySet[Preview]:
    """Previews with their newest `versions_shown` versions each (a sliced prefetch)."""
    newest_first = Window(RowNumber(), partition_by=F("preview_id"), order_by=F("version").desc())
    versions = (
        PreviewVersion.objects.annotate(rank=newest_first)
        .filter(rank__lte=versions_shown)
        .order_by("-version")
    )
    return preview_list(project=project).prefetch_related(Prefetch("versions", queryset=versions))


def preview_get(*, project: Project, preview_id) -> Preview:
    preview = preview_list(project=project).select_related("project").filter(pk=preview_id).first()
    if preview is None:
        raise NotFound("Preview not found.")
    return preview


def deployment_timelines(deployments) -> dict:
    """{deployment id: [(status, when), ...]} from the history rows, one query for the page.

    Only the rows where the status changed are kept: that is the deployment's timeline.
    """
    ids = [d.pk for d in deployments]
    if not ids:
        return {}
    rows = (
        Deployment.history.filter(id__in=ids)
        .order_by("history_date")
        .values_list("id", "status", "history_date")
    )
    timelines: dict = {pk: [] for pk in ids}
    for pk, status, when in rows:
        steps = timelines[pk]
        if not steps or steps[-1][0] != status:
            steps.append((status, when))
    return timelines


def runs_with_steps(*, project: Project) -> QuerySet[Run]:
    return run_list(project=project).prefetch_related(
        Prefetch("steps", queryset=RunStep.objects.order_by("created_at"))
    )


def artifact_versions_for_index(project_id: str) -> list[dict]:
    """Every artifact version of a project as the indexing port's dicts (reindex source)."""
    from common.indexing import ARTIFACT_FIELDS

    return list(
        Artifact.objects.filter(project_id=project_id)
        .order_by("kind", "logical_key", "version")
        .values("id", *ARTIFACT_FIELDS)
    )


def repos_for_index(project_id: str) -> list[dict]:
    """The project's repositories and their synced commits, as the indexing port's dicts."""
    from .sync_models import RepoSyncState

    heads = dict(
        RepoSyncState.objects.filter(repo__project_id=project_id).values_list("repo_id", "head_sha")
    )
    return [
        {"id": r.pk, "project_id": r.project_id, "name": str(r), "commit_sha": heads.get(r.pk, "")}
        for r in Repo.objects.filter(project_id=project_id).order_by("created_at", "pk")
    ]


def repo_reader_for_index(repo_id: str):
    """A reader (tree, blob, close) of the repository for the indexing port, or None."""
    from .git import backend_for

    repo = Repo.objects.filter(pk=repo_id).first()
    return None if repo is None else backend_for(repo)


def artifact_get(*, project: Project, artifact_id) -> Artifact:
    artifact = artifact_list(project=project).filter(pk=artifact_id).first()
    if artifact is None:
        raise NotFound("Artifact not found.")
    return artifact
