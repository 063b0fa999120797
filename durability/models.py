"""Durability models: the backup catalogue and the schema-version document."""

from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import GLOBAL, DataClass, data_class


class BackupStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    PRUNED = "pruned", "Pruned"


class VerifyStatus(models.TextChoices):
    NEVER = "never", "Never verified"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class BackupKind(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental (a delta on its parent)"
    INSTANCE = "instance", "Instance (every global row, the catalogue)"


class BackupTrigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    SCHEDULE = "schedule", "Schedule"
    MIGRATION = "migration", "Before a migration"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant=GLOBAL,
    reason="The catalogue of backups taken; the archives in backup storage are the critical "
    "copy and carry their own manifest.",
    backup=False,
)
class BackupRecord(BaseModel):
    """One backup of one workspace; `backup_id` is its folder name in backup storage."""

    Status = BackupStatus

    backup_id = models.CharField(max_length=200, unique=True)
    # No foreign key: the catalogue outlives a purged workspace, and a fresh instance
    # learns about backups of workspaces it does not have yet.
    workspace_id_scope = models.UUIDField(null=True, blank=True, db_index=True)
    workspace_slug = models.CharField(max_length=64, blank=True)
    trigger = models.CharField(
        max_length=16, choices=BackupTrigger.choices, default=BackupTrigger.MANUAL
    )
    kind = models.CharField(max_length=16, choices=BackupKind.choices, default=BackupKind.FULL)
    # The backup this delta applies on (empty for a full backup); restore needs the chain.
    parent_backup_id = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=BackupStatus.choices, default=BackupStatus.RUNNING
    )
    taken_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    row_count = models.BigIntegerField(default=0)
    byte_count = models.BigIntegerField(default=0)
    file_count = models.IntegerField(default=0)
    app_version = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_status = models.CharField(
        max_length=16, choices=VerifyStatus.choices, default=VerifyStatus.NEVER
    )
    verify_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-taken_at"]
        verbose_name = "backup"
        indexes = [models.Index(fields=["workspace_id_scope", "taken_at"], name="backup_ws_taken")]

    def __str__(self) -> str:
        return self.backup_id


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="The schema-version document (seed 004): refuses writes from code older than the "
    "data; copied into every backup manifest.",
    backup=False,
    backup_via="copied into every backup manifest (seed 004)",
)
class SchemaVersion(BaseModel):
    """The single schema-version document row (seed 004's JSON, one column per field)."""

    meta_version = models.PositiveIntegerField(default=1)
    app_version = models.PositiveIntegerField(default=0)
    app_last_migrated_by = models.CharField(max_length=100, blank=True)
    app_last_written_by = models.CharField(max_length=100, blank=True)
    views_version = models.PositiveIntegerField(default=0)
    views_last_migrated_by = models.CharField(max_length=100, blank=True)
    views_last_written_by = models.CharField(max_length=100, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        verbose_name = "schema version"

    def __str__(self) -> str:
        return f"app v{self.app_version}, views v{self.views_version}"

    def as_document(self) -> dict:
        return {
            "meta_version": self.meta_version,
            "app": {
                "version": self.app_version,
                "last_migrated_by": self.app_last_migrated_by,
                "last_written_by": self.app_last_written_by,
            },
            "views": {
                "version": self.views_version,
                "last_migrated_by": self.views_last_migrated_by,
                "last_written_by": self.views_last_written_by,
            },
        }
