"""Restoring a backup: every checksum checked first, then the workspace replaced (or
created) in one transaction, all or nothing.

`fetch_parts` and `load_parts` are shared with verification, which restores into a
scratch database instead.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from typing import Any

from django.core.files import File
from django.core.files.storage import Storage
from django.db import DatabaseError, transaction

from accounts.models import Team, User
from common.exceptions import Conflict, ValidationFailed
from durability import archive, rows, versions
from durability.models import BackupRecord, BackupStatus
from durability.services._shared import Digest, Progress, emit, entry_model
from governance import registry
from governance.immutability import allow_purge
from governance.models import AuditAction
from governance.purge import KEEP_FOREVER, delete_workspace_rows
from governance.services import audit_record
from workspaces.models import Workspace

# --- reading an archive back --------------------------------------------------------


def _fetch_verified(backup_id: str, tmp: str, *, progress: Progress = None) -> dict[str, Any]:
    """Manifest plus every part and file downloaded to `tmp` and checked; refuses damage."""
    manifest = archive.read_manifest(backup_id)
    problems = fetch_parts(manifest, backup_id, tmp, progress)
    if problems:
        raise ValidationFailed(
            f"Backup {backup_id} is damaged and was not restored: {'; '.join(problems)}."
        )
    return manifest


def fetch_parts(
    manifest: dict[str, Any], backup_id: str, tmp: str, progress: Progress
) -> list[str]:
    """Download every part and file of the backup to `tmp`; returns what is missing or damaged.

    Each manifest item learns where its local copy is (`item["_local"]`).
    """
    storage = archive.backup_storage()
    problems = []
    for index, item in enumerate(manifest["parts"] + manifest["files"]):
        name = f"{backup_id}/{item['file']}"
        local = os.path.join(tmp, f"{index:05d}")
        item["_local"] = local
        if not storage.exists(name):
            problems.append(f"{item['file']} is missing")
            continue
        sha, size = archive.copy_to_local(storage, name, local)
        if sha != item["sha256"] or size != item["bytes"]:
            problems.append(f"{item['file']} does not match its checksum")
        emit(progress, stage="check", model=item.get("model", item.get("path")), bytes=size)
    return problems


def load_parts(
    manifest: dict[str, Any],
    *,
    using: str,
    team_existed: bool,
    progress: Progress = None,
) -> dict[str, int]:
    """Insert every part's rows (inside the caller's transaction); returns rows per model."""
    known = {e.key: e for e in registry.backup_models(include_global=True)}
    unknown = [p["model"] for p in manifest["parts"] if p["model"] not in known]
    if unknown:
        raise ValidationFailed(
            f"The backup holds models this code does not know: {', '.join(unknown)}."
        )
    loaded = {}
    for part in manifest["parts"]:
        entry = known[part["model"]]
        if part.get("scope") == "global" and part.get("team_bound") and team_existed:
            # The team lives on here: its memberships are left exactly as they are now, so a
            # restore never re-admits a member who was removed after the backup.
            loaded[part["model"]] = 0
            continue
        skip_existing = part.get("scope") == "global" or entry.key in KEEP_FOREVER
        digest = Digest()
        count = rows.load(
            entry_model(entry),
            digest.watch(archive.decompressed_blocks(part["_local"])),
            using=using,
            skip_existing=skip_existing,
        )
        if count != part["rows"] or digest.hexdigest() != part["content_digest"]:
            raise ValidationFailed(
                f"Part {part['file']} decoded to {count} rows that do not match the manifest."
            )
        loaded[part["model"]] = count
        emit(progress, stage="restore", model=part["model"], rows=count, bytes=part["bytes"])
    return loaded


def _restore_files(manifest: dict[str, Any]) -> int:
    media = archive.media_storage()
    written = 0
    for item in manifest["files"]:
        path = item["path"]
        if media.exists(path):
            sha, _ = _storage_sha(media, path)
            if sha == item["sha256"]:
                continue
            media.delete(path)
        with open(item["_local"], "rb") as fh:
            saved = media.save(path, File(fh, name=os.path.basename(path)))
        if saved != path:
            raise Conflict(f"Could not put {path} back in storage (it was taken meanwhile).")
        written += 1
    return written


def _storage_sha(storage: Storage, path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with storage.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(archive.BLOCK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# --- restore ----------------------------------------------------------------------


def backup_restore(
    *, backup_id: str, actor: User | None = None, progress: Progress = None
) -> dict[str, Any]:
    """Replace (or create) the backup's workspace from the archive: verified, all or nothing.

    Rules for global rows (users, the team, its memberships), which other workspaces
    share: an existing row is never changed (it may be newer than the backup); a
    missing one is inserted as it was. When the team already exists, its memberships are
    left as they are. The workspace's audit events are kept; the backup's are added
    where missing.
    """
    versions.check_writable()
    with archive.scratch_dir() as tmp:
        manifest = _fetch_verified(backup_id, tmp, progress=progress)
        versions.check_backup_schema(manifest["schema"])
        try:
            result = _restore_verified(manifest, backup_id, actor, progress)
        except DatabaseError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Conflict(
                f"Restore of backup {backup_id} failed and was rolled back (the database is "
                f"unchanged): {first}"
            ) from exc
    return result


def _restore_verified(
    manifest: dict[str, Any], backup_id: str, actor: User | None, progress: Progress
) -> dict[str, Any]:
    ws_info = manifest["workspace"]
    with transaction.atomic():
        existing = Workspace.objects.select_for_update().filter(pk=ws_info["id"]).first()
        clash = Workspace.objects.filter(slug=ws_info["slug"]).exclude(pk=ws_info["id"])
        if clash.exists():
            raise Conflict(
                f"Another workspace already uses the slug {ws_info['slug']!r}; rename it "
                "before restoring this backup."
            )
        team_existed = Team.objects.filter(pk=ws_info["team_id"]).exists()
        deleted: dict[str, int] = {}
        with allow_purge():
            if existing is not None:
                deleted = delete_workspace_rows(existing)
            loaded = load_parts(
                manifest, using="default", team_existed=team_existed, progress=progress
            )
        workspace = Workspace.objects.get(pk=ws_info["id"])
        files = _restore_files(manifest)
        rebuilt = _views_after_restore(manifest, workspace)
        catalogue(manifest)
        audit_record(
            action=AuditAction.RESTORE,
            summary=f"Restored workspace {workspace.slug} from backup {backup_id}",
            actor=actor,
            workspace=workspace,
            target=workspace,
            data={
                "backup_id": backup_id,
                "mode": "replace" if existing is not None else "create",
                "rows": sum(loaded.values()),
                "deleted_rows": sum(deleted.values()),
                "files": files,
                "views_rebuilt": rebuilt,
            },
        )
    return {
        "backup_id": backup_id,
        "workspace": ws_info["slug"],
        "mode": "replace" if existing is not None else "create",
        "rows": loaded,
        "files": files,
    }


def _views_after_restore(manifest: dict[str, Any], workspace: Workspace) -> dict[str, int] | None:
    """Regenerate the workspace's materialized views only when their version differs.

    The views were backed up in the same snapshot as the events they fold, so at the
    same views version they are already exact (seed 004: views are regenerated when
    their version differs). A backup of a database that never stamped its views version
    (0) is rebuilt, since nothing says which version its views are.
    """
    backed_up = int(manifest["schema"].get("views", {}).get("version", 0))
    if backed_up and backed_up == versions.code_views_version():
        return None
    return versions.views_rebuild(workspace=workspace)


def catalogue(manifest: dict[str, Any]) -> BackupRecord:
    """Make sure this instance's catalogue knows the backup (a fresh instance learns it here)."""
    ws = manifest["workspace"]
    record, _ = BackupRecord.objects.get_or_create(
        backup_id=manifest["backup_id"],
        defaults={
            "workspace_id_scope": ws["id"],
            "workspace_slug": ws["slug"],
            "status": BackupStatus.SUCCEEDED,
            "taken_at": datetime.datetime.fromisoformat(manifest["created_at"]),
            "finished_at": datetime.datetime.fromisoformat(manifest["finished_at"]),
            "row_count": manifest["totals"]["rows"],
            "byte_count": manifest["totals"]["bytes"],
            "file_count": manifest["totals"]["files"],
            "app_version": int(manifest["schema"]["app"]["version"]),
        },
    )
    return record
