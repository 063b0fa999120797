"""Taking a backup: one workspace's parts, files and manifest written to backup storage.

See `durability.archive` for the layout and `durability.rows` for the streaming; the
manifest is written last, so a backup without one was interrupted and never counts.
"""

from __future__ import annotations

import datetime
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections, models, transaction
from django.utils import timezone

from accounts.models import Membership, Role, User
from common import events
from durability import archive, rows, versions
from durability.models import BackupRecord, BackupStatus, BackupTrigger
from durability.services._shared import Progress, emit, entry_model
from durability.services.scope import workspace_files, workspace_scope
from governance import registry
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace


def new_backup_id(workspace: Workspace, at: datetime.datetime) -> str:
    return f"{workspace.slug}-{at.astimezone(datetime.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


@contextmanager
def _snapshot(using: str) -> Iterator[None]:
    """One consistent read snapshot for every part (REPEATABLE READ on PostgreSQL)."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _announce(workspace: Workspace, kind: str, data: dict) -> None:
    """backup.completed / backup.failed for webhooks; a failure also notifies the admins."""
    failed = kind == "backup.failed"
    admins = Membership.objects.filter(
        team_id=workspace.team_id, role__in=[Role.OWNER, Role.ADMIN]
    ).values_list("user_id", flat=True)
    events.emit(
        kind,
        workspace_id=workspace.pk,
        data={"workspace": workspace.slug, **data},
        summary=f"Backup of {workspace.slug} failed: {data.get('error', '')[:120]}"
        if failed
        else f"Backup of {workspace.slug} completed",
        notify=list(admins) if failed else [],
        link=f"/w/{workspace.slug}/backups/",
    )


def backup_create(
    *,
    workspace: Workspace,
    actor: User | None = None,
    trigger: str = BackupTrigger.MANUAL,
    progress: Progress = None,
    at: datetime.datetime | None = None,
) -> BackupRecord:
    """Write one complete backup of `workspace` to backup storage; manifest last."""
    taken_at = at or timezone.now()
    backup_id = new_backup_id(workspace, taken_at)
    record = BackupRecord.objects.create(
        backup_id=backup_id,
        workspace_id_scope=workspace.pk,
        workspace_slug=workspace.slug,
        trigger=trigger,
        taken_at=taken_at,
        app_version=versions.APP_VERSION,
    )
    try:
        manifest = _write_archive(workspace, backup_id, taken_at, progress)
    except BaseException as exc:
        error = (str(exc) or type(exc).__name__)[:2000]
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupStatus.FAILED, error=error, finished_at=timezone.now()
        )
        _announce(workspace, "backup.failed", {"backup_id": backup_id, "error": error[:500]})
        raise
    totals = manifest["totals"]
    _announce(workspace, "backup.completed", {"backup_id": backup_id, **totals})
    record.status = BackupStatus.SUCCEEDED
    record.finished_at = timezone.now()
    record.row_count = totals["rows"]
    record.byte_count = totals["bytes"]
    record.file_count = totals["files"]
    record.app_version = int(manifest["schema"]["app"]["version"])
    record.save(
        update_fields=[
            "status",
            "finished_at",
            "row_count",
            "byte_count",
            "file_count",
            "app_version",
            "updated_at",
        ]
    )
    audit_record(
        action=AuditAction.BACKUP,
        summary=f"Backup {backup_id}: {totals['rows']} rows, {totals['files']} files",
        actor=actor,
        workspace=workspace,
        target=record,
        data={"backup_id": backup_id, "trigger": trigger, **totals},
    )
    return record


def _export_part(
    tmp: str,
    index: int,
    entry: registry.Entry,
    queryset: models.QuerySet[Any],
    using: str,
    snapshot: str | None = None,
) -> tuple[str, str, int, dict[str, Any]]:
    """Write one part to a temp file; returns (filename, local path, rows, checksums).

    With `snapshot` (PostgreSQL, a worker thread) the part is read on this thread's own
    connection inside the exported snapshot of the backup's transaction.
    """
    filename = f"{index:03d}-{entry.key}.jsonl.zst"
    writer = archive.PartWriter(tmp, filename)
    try:
        if snapshot is None:
            count = rows.export(queryset, using=using, write=writer.write)
        else:
            try:
                with transaction.atomic(using=using):
                    with connections[using].cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                    count = rows.export(queryset, using=using, write=writer.write)
            finally:
                connections[using].close()
    except BaseException:
        writer.abort()
        raise
    return filename, writer.path, count, writer.finish()


def _write_archive(
    workspace: Workspace, backup_id: str, taken_at: datetime.datetime, progress: Progress
) -> dict[str, Any]:
    using = "default"
    parts: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    missing: list[str] = []
    connection = connections[using]
    # Parallel reads need committed data and their own connections: PostgreSQL, outside
    # any caller's transaction, sharing one exported snapshot (what pg_dump -j does).
    workers = int(getattr(settings, "BACKUP_WORKERS", 2))
    parallel = connection.vendor == "postgresql" and not connection.in_atomic_block and workers > 1
    with archive.scratch_dir() as tmp, _snapshot(using):
        schema = versions.schema_document(using)
        scope = list(enumerate(workspace_scope(workspace, using=using)))
        pool: ThreadPoolExecutor | None = None
        if parallel:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backup")
            futures = [
                pool.submit(_export_part, tmp, i, entry, qs, using, snapshot)
                for i, (entry, qs, _info) in scope
            ]
            results = (f.result() for f in futures)
        else:
            results = (_export_part(tmp, i, entry, qs, using) for i, (entry, qs, _info) in scope)
        try:
            for (_index, (entry, _qs, info)), (filename, local, count, sums) in zip(
                scope, results, strict=True
            ):
                archive.store_file(f"{backup_id}/parts/{filename}", local)
                os.remove(local)
                parts.append(
                    {
                        "model": entry.key,
                        "table": entry_model(entry)._meta.db_table,
                        "file": f"parts/{filename}",
                        "rows": count,
                        "columns": [f.column for f in rows.columns(entry_model(entry))],
                        **info,
                        **sums,
                    }
                )
                emit(progress, stage="backup", model=entry.key, rows=count, bytes=sums["bytes"])
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        media = archive.media_storage()
        for path in workspace_files(workspace, using=using):
            local = os.path.join(tmp, "blob")
            if not media.exists(path):
                missing.append(path)
                continue
            sha, size = archive.copy_to_local(media, path, local)
            archive.store_file(f"{backup_id}/files/{path}", local)
            os.remove(local)
            files.append({"path": path, "file": f"files/{path}", "bytes": size, "sha256": sha})
            emit(progress, stage="files", model=path, rows=0, bytes=size)
    manifest = {
        "format": archive.FORMAT,
        "backup_id": backup_id,
        "schema": schema,
        "code": {"app_version": versions.APP_VERSION, "release": settings.APP_VERSION},
        "vendor": connections[using].vendor,
        "workspace": {
            "id": str(workspace.pk),
            "slug": workspace.slug,
            "name": workspace.name,
            "team_id": str(workspace.team_id),
        },
        "created_at": taken_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "parts": parts,
        "files": files,
        "missing_files": missing,
        "totals": {
            "rows": sum(p["rows"] for p in parts),
            "bytes": sum(p["bytes"] for p in parts) + sum(f["bytes"] for f in files),
            "files": len(files),
        },
    }
    archive.write_manifest(backup_id, manifest)  # last: from now on the backup is complete
    return manifest
