"""Reads for durability state."""

from governance.durability.models import BackupRecord


def last_successful_backup(workspace=None) -> BackupRecord | None:
    """The newest finished backup covering `workspace` (a full backup covers every workspace)."""
    qs = BackupRecord.objects.filter(status=BackupRecord.Status.SUCCEEDED)
    if workspace is not None:
        from django.db.models import Q

        qs = qs.filter(Q(workspace_id_scope=workspace.pk) | Q(workspace_id_scope__isnull=True))
    return qs.order_by("-finished_at").first()


def list_backups():
    return BackupRecord.objects.order_by("-created_at")
