"""Celery tasks of the durability app: thin wrappers around services."""

from celery import shared_task

from durability import services
from workspaces.models import Workspace


@shared_task(name="durability.scheduled_backups", acks_late=True, ignore_result=False)
def scheduled_backups() -> dict:
    """Back up every workspace and apply retention (each backup writes an AuditEvent)."""
    return services.scheduled_backups()


@shared_task(name="durability.incremental_backups", acks_late=True, ignore_result=False)
def incremental_backups() -> dict:
    """A delta of every workspace since its previous backup (RPO: the beat interval)."""
    return services.scheduled_incrementals()


@shared_task(name="durability.verify_newest", acks_late=True, ignore_result=False)
def verify_newest() -> dict:
    """The drill: restore the newest backup of each workspace into a scratch database."""
    return services.scheduled_verify()


@shared_task(name="durability.backup_workspace", acks_late=True)
def backup_workspace(workspace_id: str) -> str:
    workspace = Workspace.objects.get(pk=workspace_id)
    return services.backup_create(workspace=workspace).backup_id
