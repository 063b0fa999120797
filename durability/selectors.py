"""Durability reads: the backup catalogue, backup health per workspace, archives in storage."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from common.exceptions import ServiceError
from durability import archive
from durability.models import BackupRecord, BackupStatus

LISTED = [BackupStatus.SUCCEEDED, BackupStatus.FAILED, BackupStatus.RUNNING]


def last_successful_backup(workspace=None) -> BackupRecord | None:
    """The newest finished backup of `workspace` (of any workspace when None)."""
    qs = BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED)
    if workspace is not None:
        qs = qs.filter(workspace_id_scope=workspace.pk)
    return qs.order_by("-taken_at").first()


def workspace_backups(workspace) -> QuerySet[BackupRecord]:
    return BackupRecord.objects.filter(workspace_id_scope=workspace.pk, status__in=LISTED).order_by(
        "-taken_at"
    )


def list_backups(*, workspace=None) -> QuerySet[BackupRecord]:
    qs = BackupRecord.objects.exclude(status=BackupStatus.PRUNED)
    if workspace is not None:
        qs = qs.filter(workspace_id_scope=workspace.pk)
    return qs.order_by("-taken_at")


def newest_backups() -> list[BackupRecord]:
    """The newest successful backup of each workspace that has one."""
    seen, newest = set(), []
    for record in BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED).order_by("-taken_at"):
        if record.workspace_id_scope not in seen:
            seen.add(record.workspace_id_scope)
            newest.append(record)
    return newest


@dataclass(frozen=True)
class BackupHealth:
    last_successful: BackupRecord | None
    age_seconds: int | None
    interval_seconds: int
    stale: bool


def backup_health(workspace, *, now: datetime.datetime | None = None) -> BackupHealth:
    """Last successful backup, its age, and whether it is older than twice the interval."""
    now = now or timezone.now()
    interval = int(settings.BACKUP_INTERVAL_SECONDS)
    last = last_successful_backup(workspace)
    age = int((now - last.taken_at).total_seconds()) if last else None
    return BackupHealth(
        last_successful=last,
        age_seconds=age,
        interval_seconds=interval,
        stale=age is None or age > 2 * interval,
    )


@dataclass(frozen=True)
class StoredBackup:
    backup_id: str
    complete: bool
    manifest: dict | None
    error: str = ""


def stored_backups(*, workspace_slug: str | None = None, include_incomplete: bool = False):
    """Backups as backup storage has them (the truth a fresh instance sees), newest first.

    Only a folder with an intact manifest is complete; an interrupted backup has none.
    """
    found = []
    for backup_id in archive.backup_ids():
        if not archive.has_manifest(backup_id):
            if include_incomplete:
                found.append(StoredBackup(backup_id, False, None, "no manifest (interrupted)"))
            continue
        try:
            manifest = archive.read_manifest(backup_id)
        except ServiceError as exc:
            if include_incomplete:
                found.append(StoredBackup(backup_id, False, None, str(exc)))
            continue
        if "workspace" not in manifest:  # an instance backup (every global row)
            if not workspace_slug:
                found.append(StoredBackup(backup_id, True, manifest))
            continue
        if workspace_slug and manifest["workspace"]["slug"] != workspace_slug:
            continue
        found.append(StoredBackup(backup_id, True, manifest))
    complete = {b.backup_id for b in found if b.complete}
    checked = []
    for backup in found:  # a delta is complete only when its whole chain is
        gone = [p for p in (backup.manifest or {}).get("chain", []) if p not in complete]
        if backup.complete and gone and not _chain_in_storage(gone):
            if include_incomplete:
                checked.append(
                    StoredBackup(backup.backup_id, False, None, f"its parent {gone[-1]} is missing")
                )
            continue
        checked.append(backup)
    found = checked
    return sorted(found, key=lambda b: (b.manifest or {}).get("created_at", ""), reverse=True)


def _chain_in_storage(backup_ids: list[str]) -> bool:
    """Whether every backup named is complete (for parents filtered out of a listing)."""
    for backup_id in backup_ids:
        try:
            archive.read_manifest(backup_id)
        except ServiceError:
            return False
    return True
