"""The instance backup: every global row, the schema document and the backup catalogue.

A workspace backup carries only the global rows its workspace references. The instance
backup carries all of them (users in no workspace, teams, memberships, capabilities,
API token hashes, plans, entitlements, their history, ...: every global model in the
backup scope), the schema-version document and a catalogue of the workspace backups.
A fresh database plus `restore --instance` and then each workspace's restore rebuilds
the whole instance from backup storage alone.

Its folder is `instance-<UTC time>-<random>`; its manifest has `"kind": "instance"`.
Restoring inserts missing rows and leaves existing ones as they are (the global rule of
a workspace restore), all in one transaction after every checksum was checked.
"""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from accounts.models import User
from common.exceptions import ValidationFailed
from durability import archive, rows, versions
from durability.models import BackupKind, BackupRecord, BackupStatus, BackupTrigger, SchemaVersion
from durability.services._shared import Progress, emit, entry_model
from durability.services.backup import _export_part, _snapshot
from durability.services.restore import fetch_parts
from governance import registry
from governance.models import AuditAction
from governance.services import audit_record

PREFIX = "instance-"


def instance_entries() -> list[registry.Entry]:
    """Every global model in the backup scope, parents first: what an instance backup holds."""
    return [e for e in registry.backup_models(include_global=True) if e.is_global]


def is_instance(manifest: dict[str, Any]) -> bool:
    return manifest.get("kind") == BackupKind.INSTANCE


def backup_instance_create(
    *,
    actor: User | None = None,
    trigger: str = BackupTrigger.MANUAL,
    progress: Progress = None,
    at: datetime.datetime | None = None,
) -> BackupRecord:
    """Write an instance backup to backup storage; manifest last."""
    taken_at = at or timezone.now()
    backup_id = f"{PREFIX}{taken_at.astimezone(datetime.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    record = BackupRecord.objects.create(
        backup_id=backup_id,
        kind=BackupKind.INSTANCE,
        trigger=trigger,
        taken_at=taken_at,
        app_version=versions.APP_VERSION,
    )
    try:
        manifest = _write_instance(backup_id, taken_at, progress)
    except BaseException as exc:
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupStatus.FAILED,
            error=(str(exc) or type(exc).__name__)[:2000],
            finished_at=timezone.now(),
        )
        raise
    totals = manifest["totals"]
    BackupRecord.objects.filter(pk=record.pk).update(
        status=BackupStatus.SUCCEEDED,
        finished_at=timezone.now(),
        row_count=totals["rows"],
        byte_count=totals["bytes"],
        app_version=int(manifest["schema"]["app"]["version"]),
        updated_at=timezone.now(),
    )
    record.refresh_from_db()
    audit_record(
        action=AuditAction.BACKUP,
        summary=f"Instance backup {backup_id}: {totals['rows']} global rows, "
        f"{len(manifest['catalogue'])} workspace backups catalogued",
        actor=actor,
        target=record,
        data={"backup_id": backup_id, "trigger": trigger, "kind": BackupKind.INSTANCE, **totals},
    )
    return record


def _catalogue_rows() -> list[dict[str, Any]]:
    records = BackupRecord.objects.filter(status=BackupStatus.SUCCEEDED).exclude(
        kind=BackupKind.INSTANCE
    )
    return [
        {
            "backup_id": r.backup_id,
            "workspace_id": str(r.workspace_id_scope) if r.workspace_id_scope else None,
            "workspace_slug": r.workspace_slug,
            "kind": r.kind,
            "parent": r.parent_backup_id,
            "trigger": r.trigger,
            "taken_at": r.taken_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "rows": r.row_count,
            "bytes": r.byte_count,
            "files": r.file_count,
            "app_version": r.app_version,
        }
        for r in records.order_by("taken_at", "backup_id")
    ]


def _write_instance(
    backup_id: str, taken_at: datetime.datetime, progress: Progress
) -> dict[str, Any]:
    using = "default"
    parts: list[dict[str, Any]] = []
    with archive.scratch_dir() as tmp, _snapshot(using):
        schema = versions.schema_document(using)
        catalogue = _catalogue_rows()
        for index, entry in enumerate(instance_entries()):
            model = entry_model(entry)
            queryset = model._default_manager.all().order_by("pk")
            filename, local, count, sums, _keys = _export_part(tmp, index, entry, queryset, using)
            archive.store_file(f"{backup_id}/parts/{filename}", local)
            os.remove(local)
            parts.append(
                {
                    "model": entry.key,
                    "table": model._meta.db_table,
                    "file": f"parts/{filename}",
                    "rows": count,
                    "columns": [f.column for f in rows.columns(model)],
                    "scope": "global",
                    **sums,
                }
            )
            emit(progress, stage="backup", model=entry.key, rows=count, bytes=sums["bytes"])
    manifest: dict[str, Any] = {
        "format": archive.INSTANCE_FORMAT,
        "backup_id": backup_id,
        "kind": BackupKind.INSTANCE,
        "schema": schema,
        "code": {"app_version": versions.APP_VERSION, "release": settings.APP_VERSION},
        "vendor": connections[using].vendor,
        "created_at": taken_at.isoformat(),
        "finished_at": timezone.now().isoformat(),
        "parts": parts,
        "files": [],
        "missing_files": [],
        "catalogue": catalogue,
        "totals": {
            "rows": sum(p["rows"] for p in parts),
            "bytes": sum(p["bytes"] for p in parts),
            "files": 0,
        },
    }
    archive.write_manifest(backup_id, manifest)
    return manifest


def newest_instance_backup() -> str | None:
    """The id of the newest complete instance backup in backup storage."""
    for backup_id in sorted(
        (b for b in archive.backup_ids() if b.startswith(PREFIX)), reverse=True
    ):
        if archive.has_manifest(backup_id):
            return backup_id
    return None


def instance_restore(
    *, backup_id: str, actor: User | None = None, progress: Progress = None
) -> dict[str, Any]:
    """Put every global row of the instance backup back (missing rows only), the schema
    document when this database has none, and the catalogue; all or nothing."""
    from durability.services.restore import load_parts

    versions.check_writable()
    manifest = archive.read_manifest(backup_id)
    if not is_instance(manifest):
        raise ValidationFailed(f"Backup {backup_id} is not an instance backup.")
    versions.check_backup_schema(manifest["schema"])
    with archive.scratch_dir() as tmp:
        problems = fetch_parts(manifest, backup_id, tmp, progress)
        if problems:
            raise ValidationFailed(
                f"Backup {backup_id} is damaged and was not restored: {'; '.join(problems)}."
            )
        with transaction.atomic():
            loaded = load_parts(manifest, using="default", team_existed=False, progress=progress)
            schema_created = _schema_from(manifest["schema"])
            catalogued = _catalogue_from(manifest)
            audit_record(
                action=AuditAction.RESTORE,
                summary=f"Restored the instance's global rows from backup {backup_id}",
                actor=actor,
                data={
                    "backup_id": backup_id,
                    "rows": sum(loaded.values()),
                    "catalogued": catalogued,
                    "schema_created": schema_created,
                },
            )
    return {
        "backup_id": backup_id,
        "rows": loaded,
        "catalogued": catalogued,
        "workspaces": newest_per_workspace(manifest),
    }


def _schema_from(document: dict[str, Any]) -> bool:
    if SchemaVersion.objects.exists():
        return False
    SchemaVersion.objects.create(
        meta_version=document.get("meta_version", 1),
        app_version=document["app"]["version"],
        app_last_migrated_by=document["app"].get("last_migrated_by", ""),
        app_last_written_by=document["app"].get("last_written_by", ""),
        views_version=document["views"]["version"],
        views_last_migrated_by=document["views"].get("last_migrated_by", ""),
        views_last_written_by=document["views"].get("last_written_by", ""),
    )
    return True


def _catalogue_from(manifest: dict[str, Any]) -> int:
    created = 0
    for row in manifest["catalogue"]:
        _, made = BackupRecord.objects.get_or_create(
            backup_id=row["backup_id"],
            defaults={
                "workspace_id_scope": row["workspace_id"],
                "workspace_slug": row["workspace_slug"],
                "kind": row["kind"],
                "parent_backup_id": row["parent"] or "",
                "trigger": row["trigger"],
                "status": BackupStatus.SUCCEEDED,
                "taken_at": datetime.datetime.fromisoformat(row["taken_at"]),
                "finished_at": datetime.datetime.fromisoformat(row["finished_at"])
                if row["finished_at"]
                else None,
                "row_count": row["rows"],
                "byte_count": row["bytes"],
                "file_count": row["files"],
                "app_version": row["app_version"],
            },
        )
        created += int(made)
    return created


def newest_per_workspace(manifest: dict[str, Any]) -> dict[str, str]:
    """Slug -> the newest catalogued backup of that workspace whose archive is complete."""
    newest: dict[str, str] = {}
    for row in sorted(manifest["catalogue"], key=lambda r: r["taken_at"]):
        if row["workspace_slug"] and archive.has_manifest(row["backup_id"]):
            newest[row["workspace_slug"]] = row["backup_id"]
    return newest
