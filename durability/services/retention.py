"""Retention: which backups a grandfather-father-son policy keeps, pruning the rest,
and the scheduled job that backs up every workspace and then prunes.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from durability import archive
from durability.models import BackupRecord, BackupStatus, BackupTrigger
from durability.services import chain
from durability.services.backup import backup_create
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace

logger = logging.getLogger(__name__)


def retention_keep(
    taken: list[datetime.datetime], *, hourly: int, daily: int, weekly: int
) -> set[datetime.datetime]:
    """Which timestamps a grandfather-father-son policy keeps (restic's semantics).

    Walking newest to oldest, each policy keeps the newest backup of each distinct hour
    (day, ISO week) until it has kept N of them; the newest backup is always kept.
    """
    ordered = sorted(taken, reverse=True)
    keep: set[datetime.datetime] = set(ordered[:1])
    buckets: tuple[tuple[int, Callable[[datetime.datetime], tuple[int, ...]]], ...] = (
        (hourly, lambda t: (t.year, t.month, t.day, t.hour)),
        (daily, lambda t: (t.year, t.month, t.day)),
        (weekly, lambda t: tuple(t.isocalendar()[:2])),
    )
    for limit, bucket in buckets:
        last, kept = None, 0
        for t in ordered:
            if kept >= limit:
                break
            b = bucket(t.astimezone(datetime.UTC))
            if b != last:
                keep.add(t)
                kept += 1
                last = b
    return keep


def backups_prune(
    *,
    workspace_id: UUID | str | None,
    actor: User | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """Apply the retention policy to one workspace's successful backups; removes the rest.

    `workspace_id=None` applies it to the instance backups.

    Also clears the debris of backups that failed or were interrupted more than a day ago.
    """
    now = now or timezone.now()
    done = BackupRecord.objects.filter(
        workspace_id_scope=workspace_id, status=BackupStatus.SUCCEEDED
    )
    records = list(done.only("pk", "backup_id", "taken_at"))
    keep = retention_keep(
        [r.taken_at for r in records],
        hourly=settings.BACKUP_RETAIN_HOURLY,
        daily=settings.BACKUP_RETAIN_DAILY,
        weekly=settings.BACKUP_RETAIN_WEEKLY,
    )
    # A kept delta needs its whole chain: never prune a backup a kept one depends on.
    kept_ids = {r.backup_id for r in records if r.taken_at in keep}
    kept_ids |= chain.ancestors(kept_ids)
    pruned = []
    for record in records:
        if record.backup_id in kept_ids:
            continue
        archive.delete_backup(record.backup_id)
        BackupRecord.objects.filter(pk=record.pk).update(status=BackupStatus.PRUNED, updated_at=now)
        pruned.append(record.backup_id)
    stale_cutoff = now - datetime.timedelta(days=1)
    debris = BackupRecord.objects.filter(
        workspace_id_scope=workspace_id,
        status__in=[BackupStatus.FAILED, BackupStatus.RUNNING],
        taken_at__lt=stale_cutoff,
    ).exclude(error__startswith="[cleared]")
    for record in debris:
        archive.delete_backup(record.backup_id)
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupStatus.FAILED, error=f"[cleared] {record.error}"[:2000]
        )
    return {"kept": len(records) - len(pruned), "pruned": pruned}


def scheduled_backups(*, now: datetime.datetime | None = None) -> dict[str, dict[str, Any]]:
    """The beat job: back up every workspace, apply retention to its backups, then write an
    instance backup (every global row and the catalogue) and apply retention to those."""
    results: dict[str, dict[str, Any]] = {}
    for workspace in Workspace.objects.order_by("slug"):
        try:
            record = backup_create(workspace=workspace, trigger=BackupTrigger.SCHEDULE, at=now)
            pruned = backups_prune(workspace_id=workspace.pk, now=now)
            results[workspace.slug] = {"backup_id": record.backup_id, **pruned}
        except Exception as exc:  # one failing workspace must not stop the others
            logger.exception("Scheduled backup of %s failed", workspace.slug)
            audit_record(
                action=AuditAction.BACKUP,
                summary=f"Scheduled backup of {workspace.slug} FAILED: {exc}"[:500],
                workspace=workspace,
                data={"error": str(exc)[:2000], "trigger": BackupTrigger.SCHEDULE},
            )
            results[workspace.slug] = {"error": str(exc)}
    try:  # then every global row and the catalogue of the backups just taken
        from durability.services.instance import backup_instance_create

        record = backup_instance_create(trigger=BackupTrigger.SCHEDULE, at=now)
        results["(instance)"] = {
            "backup_id": record.backup_id,
            **backups_prune(workspace_id=None, now=now),
        }
    except Exception as exc:
        logger.exception("Scheduled instance backup failed")
        audit_record(
            action=AuditAction.BACKUP,
            summary=f"Scheduled instance backup FAILED: {exc}"[:500],
            data={"error": str(exc)[:2000], "trigger": BackupTrigger.SCHEDULE},
        )
        results["(instance)"] = {"error": str(exc)}
    return results


def scheduled_incrementals(*, now: datetime.datetime | None = None) -> dict[str, dict[str, Any]]:
    """The beat job every BACKUP_INCREMENTAL_INTERVAL_SECONDS: a delta of every workspace.

    A workspace with no backup a delta can build on (none yet, or the schema changed
    since) gets a full backup instead, so the RPO holds from the first run.
    """
    results: dict[str, dict[str, Any]] = {}
    for workspace in Workspace.objects.order_by("slug"):
        try:
            record = backup_create(
                workspace=workspace,
                trigger=BackupTrigger.SCHEDULE,
                at=now,
                incremental=True,
                full_without_parent=True,  # the chain is read once, by backup_create
            )
            results[workspace.slug] = {"backup_id": record.backup_id, "kind": record.kind}
        except Exception as exc:  # one failing workspace must not stop the others
            logger.exception("Scheduled incremental backup of %s failed", workspace.slug)
            audit_record(
                action=AuditAction.BACKUP,
                summary=f"Scheduled incremental backup of {workspace.slug} FAILED: {exc}"[:500],
                workspace=workspace,
                data={"error": str(exc)[:2000], "trigger": BackupTrigger.SCHEDULE},
            )
            results[workspace.slug] = {"error": str(exc)}
    return results
