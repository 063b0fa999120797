"""Repository sync (seed 001): the repo-sourced caches, push deliveries, agent runs and
export jobs. Imported by `deployments.models` so Django sees them.

The author's repository is the source of truth: `RepoSyncState` is a cache rebuilt from it
by `manage.py resync` (semi-critical); `RepoDelivery` remembers push deliveries so a replay is
a no-op (ephemeral, pruned by a beat job). Agent runs and export jobs are critical until they
expire: history-tracked and in the backups.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import DataClass, data_class

USER = settings.AUTH_USER_MODEL

__all__ = [
    "AGENT_RUN_TERMINAL",
    "AgentRun",
    "AgentRunStatus",
    "DeliveryStatus",
    "ExportFormat",
    "ExportJob",
    "ExportStatus",
    "RepoDelivery",
    "RepoSyncState",
    "SyncStatus",
]


class SyncStatus(models.TextChoices):
    NEVER = "never", "Never synced"
    OK = "ok", "In sync"
    INVALID = "invalid", "Invalid file kept out"
    FAILED = "failed", "Repository unreachable"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="repo__project__workspace",
    reason="Settings, stats and metadata cached from the repository (the source of truth); "
    "rebuilt by `manage.py resync`.",
)
class RepoSyncState(BaseModel):
    repo = models.OneToOneField(
        "deployments.Repo", on_delete=models.CASCADE, related_name="sync_state"
    )
    head_sha = models.CharField(max_length=64, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    settings_sha = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(null=True, blank=True)
    stats_source = models.CharField(max_length=32, blank=True)
    computed = models.JSONField(default=dict, blank=True)  # incremental stats working state
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    errors = models.JSONField(default=list, blank=True)  # [{path, pointer, message}]
    synced_at = models.DateTimeField(null=True, blank=True)
    secret_generation = models.PositiveIntegerField(default=1)
    own_commits = models.JSONField(default=list, blank=True)  # commits Holdfast made

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = "repository sync state"

    def __str__(self) -> str:
        return f"sync of {self.repo_id} at {self.head_sha[:12] or 'nothing'} ({self.status})"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SYNCED = "synced", "Synced"
    SKIPPED = "skipped", "Nothing to sync"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


@data_class(
    DataClass.EPHEMERAL,
    tenant="repo__project__workspace",
    reason="Inbound push deliveries, kept so a replayed delivery id does nothing twice.",
    cleanup="deployments.prune_repo_deliveries",
)
class RepoDelivery(BaseModel):
    repo = models.ForeignKey(
        "deployments.Repo", on_delete=models.CASCADE, related_name="deliveries"
    )
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    ref = models.CharField(max_length=255, blank=True)
    before = models.CharField(max_length=64, blank=True)
    after = models.CharField(max_length=64, blank=True)
    forced = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "repository delivery"
        verbose_name_plural = "repository deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["repo", "delivery_id"],
                name="repodelivery_unique_delivery",
                violation_error_message="This delivery was already received.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id} ({self.status})"


class AgentRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


AGENT_RUN_TERMINAL = {AgentRunStatus.COMPLETED, AgentRunStatus.FAILED, AgentRunStatus.CANCELLED}


@data_class(
    DataClass.CRITICAL,
    tenant="project__workspace",
    reason="Agent runs (seed 001 agent_runs): the queue and each run's result; the result is "
    "also committed to .draftforge/agent-runs/.",
)
class AgentRun(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="agent_runs"
    )
    repo = models.ForeignKey(
        "deployments.Repo", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.CharField(max_length=50)
    trigger = models.CharField(max_length=16, default="manual")
    trigger_ref = models.CharField(max_length=100, blank=True)
    priority = models.IntegerField(default=0)  # higher runs first
    status = models.CharField(
        max_length=16, choices=AgentRunStatus.choices, default=AgentRunStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    run_after = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    result_path = models.CharField(max_length=300, blank=True)
    result_commit = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-priority", "created_at"]
        verbose_name = "agent run"
        indexes = [models.Index(fields=["status", "priority", "created_at"], name="agentrun_queue")]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="agentrun_unique_idempotency_key",
                violation_error_message="This idempotency key was already used in this project.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent} agent run {self.pk} ({self.status})"


class ExportFormat(models.TextChoices):
    EPUB = "epub", "EPUB"
    PDF = "pdf", "PDF"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


@data_class(
    DataClass.CRITICAL,
    tenant="project__workspace",
    reason="Export jobs (seed 001 export_jobs): EPUB/PDF builds and their files, kept 30 days "
    "then expired (the row stays, the file goes).",
)
class ExportJob(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="export_jobs"
    )
    repo = models.ForeignKey(
        "deployments.Repo", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    commit_sha = models.CharField(max_length=64, blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "export job"
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100),
                name="exportjob_progress_percent",
                violation_error_message="Progress is a percentage.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.format} export {self.pk} ({self.status})"
