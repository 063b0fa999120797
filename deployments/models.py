"""The shipping pipeline: repos, runs and steps, artifacts, approvals, sandbox jobs,
deployments, previews and infra resources (seed 003; seed 002 for previews).

Every model is critical. Mutable ones carry simple-history (history tables are
immutable by migration); Artifact and PreviewVersion are append-only and
immutable rows whose content is a write-once blob in storage. Deployment rows
are frozen by a database trigger except for forward status transitions. All
writes go through `deployments.services`; JSON and text fields hold only
redacted data (`deployments.redaction`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import DataClass, data_class, register_store

USER = settings.AUTH_USER_MODEL
PROJECT_TENANT = "project__workspace"


def _idempotency_constraint(name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["project", "idempotency_key"],
        condition=~Q(idempotency_key=""),
        name=name,
        violation_error_message="This idempotency key was already used in this project.",
    )


# --- repos ------------------------------------------------------------------


class RepoProvider(models.TextChoices):
    GITHUB = "github", "GitHub"
    GIT = "git", "Git"


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Target repositories connected to a project (non-secret metadata only).",
)
class Repo(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="repos"
    )
    provider = models.CharField(max_length=16, choices=RepoProvider.choices)
    owner = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    default_branch = models.CharField(max_length=255, default="main")
    html_url = models.URLField(max_length=500, blank=True)
    clone_url = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["owner", "name"]
        verbose_name = "repository"
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "provider", "owner", "name"],
                name="repo_unique_per_project",
                violation_error_message="This repository is already connected to the project.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.owner}/{self.name}"


# --- runs and steps -------------------------------------------------------------


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


RUN_TERMINAL = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Durable workflow runs: enough to reconstruct what happened, without secrets.",
)
class Run(BaseModel):
    project = models.ForeignKey("workspaces.Project", on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=128, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "run"
        indexes = [models.Index(fields=["project", "created_at"], name="run_project_created")]
        constraints = [_idempotency_constraint("run_unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.status})"


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


@data_class(
    DataClass.CRITICAL,
    tenant="run__project__workspace",
    reason="Workflow steps, idempotent per (run, step_id): the stored result is replayed.",
)
class RunStep(BaseModel):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=128)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=StepStatus.choices)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        verbose_name = "run step"
        indexes = [models.Index(fields=["run", "name"], name="runstep_run_name")]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_id"],
                name="runstep_unique_step_id",
                violation_error_message="This run already has a step with this id.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.status})"


# --- artifacts ----------------------------------------------------------------


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Generated artifacts: gapless versions per (project, kind, logical_key), "
    "write-once blobs.",
    append_only=True,
    immutable=True,
)
class Artifact(BaseModel):
    """One version of an artifact. Rows are never updated or deleted (database triggers)."""

    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="artifacts"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.RESTRICT, related_name="artifacts"
    )
    kind = models.CharField(max_length=64)
    logical_key = models.CharField(max_length=255)
    version = models.PositiveIntegerField()
    blob_path = models.CharField(max_length=500, unique=True)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["kind", "logical_key", "-version"]
        verbose_name = "artifact"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "kind", "logical_key", "version"],
                name="artifact_unique_version",
                violation_error_message="This artifact version already exists.",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="artifact_version_positive",
                violation_error_message="Artifact versions start at 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.logical_key}@v{self.version}"


# --- approvals ------------------------------------------------------------------


class ApprovalScope(models.TextChoices):
    REPO_PUSH = "repo.push", "Push to a repository"
    REPO_MERGE = "repo.merge", "Merge into a repository"
    INFRA_PROVISION = "infra.provision", "Provision infrastructure"
    DEPLOY_PRODUCTION = "deploy.production", "Deploy to production"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    USED = "used", "Used"


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Explicit human approvals that gate side-effectful actions.",
)
class Approval(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="approvals"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.RESTRICT, related_name="approvals"
    )
    step = models.ForeignKey(
        RunStep, null=True, blank=True, on_delete=models.RESTRICT, related_name="approvals"
    )
    scope = models.CharField(max_length=32, choices=ApprovalScope.choices)
    intent_summary = models.CharField(max_length=500)
    # A redacted copy of the action's body, for the approver to read; the hash is of the original.
    payload = models.JSONField(default=dict, blank=True)
    payload_sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    used_for = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "approval"
        indexes = [
            models.Index(fields=["run", "scope"], name="approval_run_scope"),
            models.Index(fields=["project", "status"], name="approval_project_status"),
            models.Index(fields=["status", "expires_at"], name="approval_status_expires"),
        ]
        constraints = [_idempotency_constraint("approval_unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.scope} ({self.status})"


# --- sandbox jobs -----------------------------------------------------------------


class SandboxJobType(models.TextChoices):
    REPO_CLONE = "repo.clone", "Clone a repository"
    VERIFY_TEST = "verify.test", "Run the tests"
    VERIFY_BUILD = "verify.build", "Build"
    VERIFY_LINT = "verify.lint", "Lint"
    SCRIPT_RUN = "script.run", "Run a script"


class SandboxJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Sandbox job records and redacted transcripts: what ran, how it ended.",
)
class SandboxJob(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="sandbox_jobs"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.RESTRICT, related_name="sandbox_jobs"
    )
    step = models.ForeignKey(
        RunStep, null=True, blank=True, on_delete=models.RESTRICT, related_name="sandbox_jobs"
    )
    repo = models.ForeignKey(
        Repo, null=True, blank=True, on_delete=models.RESTRICT, related_name="sandbox_jobs"
    )
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="retries"
    )
    job_type = models.CharField(max_length=32, choices=SandboxJobType.choices)
    status = models.CharField(
        max_length=16, choices=SandboxJobStatus.choices, default=SandboxJobStatus.QUEUED
    )
    command = models.JSONField(default=list)
    env = models.JSONField(default=dict, blank=True)
    timeout_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    transcript = models.TextField(blank=True)
    transcript_truncated = models.BooleanField(default=False)
    transcript_path = models.CharField(max_length=500, blank=True)
    transcript_bytes = models.BigIntegerField(default=0)
    transcript_sha256 = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=128, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "sandbox job"
        indexes = [
            models.Index(fields=["run", "job_type"], name="sandboxjob_run_type"),
            models.Index(fields=["status", "lease_expires_at"], name="sandboxjob_status_lease"),
        ]
        constraints = [_idempotency_constraint("sandboxjob_unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.job_type} job {self.pk} ({self.status})"


# --- deployments --------------------------------------------------------------------


class Environment(models.TextChoices):
    PREVIEW = "preview", "Preview"
    PRODUCTION = "production", "Production"


class DeploymentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Cancelled"


# The state machine: the only changes a deployment row may ever see.
DEPLOYMENT_TRANSITIONS: dict[str, set[str]] = {
    DeploymentStatus.QUEUED: {
        DeploymentStatus.BUILDING,
        DeploymentStatus.READY,
        DeploymentStatus.ERROR,
        DeploymentStatus.CANCELLED,
    },
    DeploymentStatus.BUILDING: {
        DeploymentStatus.READY,
        DeploymentStatus.ERROR,
        DeploymentStatus.CANCELLED,
    },
    DeploymentStatus.READY: set(),
    DeploymentStatus.ERROR: set(),
    DeploymentStatus.CANCELLED: set(),
}
# Columns a status transition may change; a trigger refuses changes to any other.
DEPLOYMENT_MUTABLE_COLUMNS = ("status", "started_at", "ended_at", "error", "updated_at")


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Deploy records: what was deployed, when, from which workspace (seed 000).",
)
class Deployment(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="deployments"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.RESTRICT, related_name="deployments"
    )
    repo = models.ForeignKey(
        Repo, null=True, blank=True, on_delete=models.RESTRICT, related_name="deployments"
    )
    environment = models.CharField(max_length=16, choices=Environment.choices)
    provider = models.CharField(max_length=32)
    external_project_id = models.CharField(max_length=200, blank=True)
    external_deployment_id = models.CharField(max_length=200, blank=True)
    url = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.QUEUED
    )
    commit_sha = models.CharField(max_length=64)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    approval = models.OneToOneField(
        Approval, null=True, blank=True, on_delete=models.RESTRICT, related_name="deployment"
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=128, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "deployment"
        indexes = [models.Index(fields=["project", "status"], name="deployment_project_status")]
        constraints = [
            _idempotency_constraint("deployment_unique_idempotency_key"),
            models.CheckConstraint(
                condition=~Q(environment=Environment.PRODUCTION) | Q(approval__isnull=False),
                name="deployment_production_needs_approval",
                violation_error_message="A production deployment needs an approval.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.environment} deployment {self.commit_sha[:12]} ({self.status})"


# --- previews ------------------------------------------------------------------------


class PreviewVisibility(models.TextChoices):
    PUBLIC = "public", "Anyone with the link"
    TEAM = "team", "Members of the workspace"
    PRIVATE = "private", "Its creator and workspace admins"


@data_class(
    DataClass.CRITICAL,
    tenant="workspace",
    reason="Preview metadata: which slug belongs to which workspace/project (seed 000); "
    "active_version is the rollback pointer.",
)
class Preview(BaseModel):
    slug = models.SlugField(max_length=64, unique=True)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="previews"
    )
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="previews"
    )
    active_version = models.PositiveIntegerField(null=True, blank=True)
    visibility = models.CharField(
        max_length=16, choices=PreviewVisibility.choices, default=PreviewVisibility.TEAM
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        verbose_name = "preview"

    def __str__(self) -> str:
        return self.slug


@data_class(
    DataClass.CRITICAL,
    tenant="preview__workspace",
    reason="Immutable preview versions: metadata row plus a write-once blob (seed 002).",
    append_only=True,
    immutable=True,
)
class PreviewVersion(BaseModel):
    preview = models.ForeignKey(Preview, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    blob_path = models.CharField(max_length=500, unique=True)
    content_type = models.CharField(max_length=100, default="application/json")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        verbose_name = "preview version"
        constraints = [
            models.UniqueConstraint(
                fields=["preview", "version"],
                name="previewversion_unique_version",
                violation_error_message="This preview version already exists.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.preview_id}@v{self.version}"


# --- infrastructure ----------------------------------------------------------------


class InfraStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DESTROYED = "destroyed", "Destroyed"


@data_class(
    DataClass.CRITICAL,
    tenant=PROJECT_TENANT,
    reason="Provisioned infrastructure: resource identity and non-secret metadata.",
)
class InfraResource(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="infra_resources"
    )
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.RESTRICT, related_name="infra_resources"
    )
    provider = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=200)
    region = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=InfraStatus.choices, default=InfraStatus.ACTIVE
    )
    metadata = models.JSONField(default=dict, blank=True)
    approval = models.OneToOneField(
        Approval, null=True, blank=True, on_delete=models.RESTRICT, related_name="infra_resource"
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=128, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "infrastructure resource"
        indexes = [models.Index(fields=["project", "provider"], name="infra_project_provider")]
        constraints = [
            _idempotency_constraint("infra_unique_idempotency_key"),
            models.UniqueConstraint(
                fields=["project", "provider", "resource_type", "external_id"],
                name="infra_unique_external_id",
                violation_error_message="This resource is already recorded for the project.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.resource_type}:{self.external_id}"


# --- blobs in default storage (under the workspace's prefix, so backups carry them) ----

register_store(
    "deployments.artifact_blobs",
    DataClass.CRITICAL,
    storage="default storage: workspaces/{workspace_id}/projects/{project_id}/artifacts/{id}",
    reason="Artifact content; write-once, sha256 and size recorded on the Artifact row.",
    tenant="workspace",
    append_only=True,
    backup=True,
)
register_store(
    "deployments.preview_blobs",
    DataClass.CRITICAL,
    storage="default storage: workspaces/{workspace_id}/previews/{preview_id}/{version}.json",
    reason="Preview version content; write-once, sha256 recorded on the PreviewVersion row.",
    tenant="workspace",
    append_only=True,
    backup=True,
)
register_store(
    "deployments.sandbox_transcripts",
    DataClass.CRITICAL,
    storage="default storage: workspaces/{workspace_id}/projects/{project_id}/sandbox/{job_id}/"
    "transcript-{attempt}.txt",
    reason="Full redacted transcript of a sandbox job whose output exceeded the stored cap.",
    tenant="workspace",
    append_only=True,
    backup=True,
)
register_store(
    "deployments.sandbox_workdirs",
    DataClass.EPHEMERAL,
    storage="folder: $SANDBOX_ROOT/job-*/ (a temporary directory per job attempt)",
    reason="Scratch working folders of sandbox jobs; removed when the job ends.",
    cleanup="deployments.sandbox.execute (removes the folder) and deployments.reap_sandbox_jobs",
    backup=False,
)


# Repository sync, agent runs and export jobs live in their own module (seed 001).
from .sync_models import *  # noqa: E402, F403
