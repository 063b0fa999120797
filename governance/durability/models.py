"""Durability models: backups, verification results, the schema-version document."""

from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import GLOBAL, DataClass, data_class


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant=GLOBAL,
    reason="The catalogue of backups taken; the archives themselves are the critical copy.",
    backup=False,
)
class BackupRecord(BaseModel):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    location = models.CharField(max_length=1000)
    workspace_id_scope = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    row_count = models.BigIntegerField(default=0)
    byte_count = models.BigIntegerField(default=0)
    app_version = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="The schema-version document: refuses writes from code older than the data.",
    backup=False,
    backup_via="copied into every backup manifest (seed 004)",
)
class SchemaVersion(BaseModel):
    app_version = models.IntegerField(default=0)
    views_version = models.IntegerField(default=0)

    history = HistoricalRecords()
