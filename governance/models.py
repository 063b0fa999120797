"""Governance models: the append-only audit of governance actions, and the purge permit."""

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from simple_history import register as history_register

from .registry import DataClass, data_class


class AuditAction(models.TextChoices):
    BACKUP = "backup", "Backup"
    RESTORE = "restore", "Restore"
    VERIFY = "verify", "Backup verification"
    PURGE = "purge", "Purge"
    ROLLBACK = "rollback", "Rollback"
    APPROVAL = "approval", "Approval decision"
    MODERATION = "moderation", "Moderation"
    MIGRATION = "migration", "Schema migration"
    RESTORE_POINT = "restore_point", "Point-in-time restore"
    ENTITLEMENT = "entitlement", "Entitlement change"
    VIEWS_REBUILD = "views_rebuild", "Views rebuilt"


@data_class(
    DataClass.CRITICAL,
    tenant="workspace",
    reason="Append-only record of governance actions (backup, restore, purge, approvals).",
    append_only=True,
    immutable=True,
)
class AuditEvent(models.Model):
    """One governance action. Rows are never updated or deleted (database triggers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # No database constraint: the audit of a purged workspace outlives the workspace.
    workspace = models.ForeignKey(
        "workspaces.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    workspace_slug = models.CharField(max_length=64, blank=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "audit event"
        indexes = [models.Index(fields=["workspace", "created_at"], name="audit_ws_created")]

    def __str__(self) -> str:
        return f"{self.action}: {self.summary}"


@data_class(
    DataClass.EPHEMERAL,
    tenant="global",
    reason="Transaction-local permit that lets the purge service past the SQLite triggers.",
    ttl=0,  # allow_purge() deletes the row before its transaction ends
    backup=False,
)
class PurgePermit(models.Model):
    granted = models.BooleanField(default=True)

    class Meta:
        verbose_name = "purge permit"

    def __str__(self) -> str:
        return "purge permit"


# Staff permission groups are critical (seed 000: "users and auth-related tables"):
# their changes, including the permissions they grant, are audited like our own models.
history_register(Group, app="governance", m2m_fields=["permissions"])
