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
from django.db import DatabaseError, models, transaction

from accounts.models import Team, User
from common.exceptions import Conflict, ValidationFailed
from durability import archive, rows, versions
from durability.models import BackupKind, BackupRecord, BackupStatus
from durability.services import chain
from durability.services._shared import Digest, Progress, emit, entry_model
from governance import registry
from governance.immutability import allow_purge
from governance.models import AuditAction
from governance.purge import KEEP_FOREVER, delete_workspace_rows
from governance.services import audit_record
from workspaces.models import Workspace

# --- reading an archive back --------------------------------------------------------


def _fetch_verified(backup_id: str, tmp: str, *, progress: Progress = None) -> list[dict[str, Any]]:
    """The backup's chain (full backup first, the backup itself last), every part and file
    downloaded to `tmp` and checked; refuses damage anywhere in the chain."""
    manifests = fetch_chain(backup_id, tmp, progress)
    problems = [p for m in manifests for p in m["_problems"]]
    if problems:
        raise ValidationFailed(
            f"Backup {backup_id} is damaged and was not restored: {'; '.join(problems)}."
        )
    return manifests


def fetch_chain(backup_id: str, tmp: str, progress: Progress) -> list[dict[str, Any]]:
    """Read and download the manifests of `backup_id`'s chain; each gets `_problems`.

    Only the target's files are fetched: its file list is the workspace's whole state.
    """
    target = archive.read_manifest(backup_id)
    manifests = chain.resolve(target)
    for index, manifest in enumerate(manifests):
        folder = os.path.join(tmp, f"c{index:04d}")
        os.makedirs(folder, exist_ok=True)
        manifest["_problems"] = fetch_parts(
            manifest, manifest["backup_id"], folder, progress, files=manifest is target
        )
    return manifests


def fetch_parts(
    manifest: dict[str, Any],
    backup_id: str,
    tmp: str,
    progress: Progress,
    *,
    files: bool = True,
) -> list[str]:
    """Download every part and file of the backup to `tmp`; returns what is missing or damaged.

    Each manifest item learns where its local copy is (`item["_local"]`). A delta's key
    lists are parts too; a file kept by an earlier backup of the chain is read from there.
    """
    storage = archive.backup_storage()
    problems = []
    items = list(manifest["parts"]) + [
        p["keys"] for p in manifest["parts"] if "file" in p.get("keys", {})
    ]
    items += [
        p["keys"]["deleted"]
        for p in manifest["parts"]
        if "file" in p.get("keys", {}).get("deleted", {})
    ]
    if files:
        items += manifest["files"]
    for index, item in enumerate(items):
        name = f"{item.get('stored_in', backup_id)}/{item['file']}"
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
        loaded[part["model"]] = _load_part(part, entry, using, skip_existing)
        emit(
            progress,
            stage="restore",
            model=part["model"],
            rows=loaded[part["model"]],
            bytes=part["bytes"],
        )
    return loaded


def _load_part(part: dict[str, Any], entry: registry.Entry, using: str, skip_existing: bool) -> int:
    digest = Digest()
    count = rows.load(
        entry_model(entry),
        digest.watch(archive.decompressed_blocks(part["_local"])),
        using=using,
        skip_existing=skip_existing,
        encoding=part.get("encoding", rows.ENCODING_JSONL),
        names=part.get("columns"),
    )
    if count != part["rows"] or digest.hexdigest() != part["content_digest"]:
        raise ValidationFailed(
            f"Part {part['file']} decoded to {count} rows that do not match the manifest."
        )
    return count


def _keys(keys: dict[str, Any], model: type[models.Model]) -> set:
    """The keys of a key list (every key, or the deleted ones), checked against the manifest."""
    if "file" not in keys:
        return set()  # an empty list of deleted keys has no file
    digest = Digest()
    found = rows.read_keys(model, digest.watch(archive.decompressed_blocks(keys["_local"])))
    if len(found) != keys["rows"] or digest.hexdigest() != keys["content_digest"]:
        raise ValidationFailed(f"Key list {keys['file']} does not match the manifest.")
    return found


def apply_delta(
    manifest: dict[str, Any], *, using: str, team_existed: bool, progress: Progress = None
) -> dict[str, int]:
    """Apply one delta on the state its parent left (inside the caller's transaction).

    Children first, every row whose key is gone or that the delta carries anew is
    removed; then, parents first, the delta's rows are inserted. Global parts are whole
    and go in as in a full restore (missing rows only).
    """
    known = {e.key: e for e in registry.backup_models(include_global=True)}
    unknown = [p["model"] for p in chain.checked_parts(manifest) if p["model"] not in known]
    if unknown:
        raise ValidationFailed(
            f"The backup holds models this code does not know: {', '.join(unknown)}."
        )
    workspace = Workspace.objects.using(using).get(pk=manifest["workspace"]["id"])
    tenant = [p for p in manifest["parts"] if p.get("scope") == "workspace"]
    for part in reversed(tenant):
        entry = known[part["model"]]
        model = entry_model(entry)
        # A key list names every key the workspace has; "deleted" names the keys deleted
        # since the parent (from history); an immutable model's delta has neither: nothing
        # of it is ever deleted.
        keys = part["keys"]
        keep = _keys(keys, model) if "file" in keys else None
        gone = _keys(keys["deleted"], model) if "deleted" in keys else set()
        if entry.key in KEEP_FOREVER:
            continue
        renewed = rows.read_pks(
            model,
            archive.decompressed_blocks(part["_local"]),
            encoding=part.get("encoding", rows.ENCODING_JSONL),
            names=part.get("columns"),
        )
        current = registry.workspace_queryset(entry, workspace).using(using).order_by()
        if keep is None:
            # what the delta carries anew (the overlap and changed rows), and the deleted
            # keys the workspace still has here
            doomed = list(renewed)
            listed = sorted(gone - renewed, key=str)
            for start in range(0, len(listed), 500):
                found = current.filter(pk__in=listed[start : start + 500])
                doomed += found.values_list("pk", flat=True)
        else:
            doomed = [
                pk for pk in current.values_list("pk", flat=True) if pk not in keep or pk in renewed
            ]
        for start in range(0, len(doomed), 500):
            batch = doomed[start : start + 500]
            model._base_manager.using(using).filter(pk__in=batch)._raw_delete(using)
    loaded: dict[str, int] = {}
    for part in manifest["parts"]:
        entry = known[part["model"]]
        if part.get("scope") == "global" and part.get("team_bound") and team_existed:
            loaded[part["model"]] = 0
            continue
        skip_existing = part.get("scope") == "global" or entry.key in KEEP_FOREVER
        loaded[part["model"]] = _load_part(part, entry, using, skip_existing)
        emit(
            progress,
            stage="restore",
            model=part["model"],
            rows=loaded[part["model"]],
            bytes=part["bytes"],
        )
    return loaded


def load_chain(
    manifests: list[dict[str, Any]],
    *,
    using: str,
    team_existed: bool,
    progress: Progress = None,
) -> dict[str, int]:
    """Load a full backup and apply its deltas in order (inside the caller's transaction).

    Returns rows inserted per model. After a delta, every workspace model must hold
    exactly the keys the delta listed (audit events, kept in place, may hold more).
    """
    loaded = load_parts(manifests[0], using=using, team_existed=team_existed, progress=progress)
    for manifest in manifests[1:]:
        for key, n in apply_delta(
            manifest, using=using, team_existed=team_existed, progress=progress
        ).items():
            loaded[key] = loaded.get(key, 0) + n
    target = manifests[-1]
    if chain.is_delta(target):
        problems = _count_mismatches(target, using=using, strict=False)
        views = {p["model"] for p in chain.checked_parts(target) if p.get("keys", {}).get("view")}
        if problems and set(problems) <= views and using == "default":
            # A view's rows are deleted only by a rebuild, which a delta does not list:
            # regenerate it from the events (restored exactly) and count again.
            workspace = Workspace.objects.using(using).get(pk=target["workspace"]["id"])
            versions.views_rebuild(workspace=workspace)
            problems = _count_mismatches(target, using=using, strict=False)
        if problems:
            raise ValidationFailed(
                f"Backup {target['backup_id']} did not restore to its recorded state: "
                f"{'; '.join(problems.values())}."
            )
    return loaded


def delta_count_problems(manifest: dict[str, Any], *, using: str, strict: bool) -> list[str]:
    """Where the workspace's row counts differ from the delta's key lists."""
    return list(_count_mismatches(manifest, using=using, strict=strict).values())


def _count_mismatches(manifest: dict[str, Any], *, using: str, strict: bool) -> dict[str, str]:
    known = {e.key: e for e in registry.backup_models(include_global=True)}
    workspace = Workspace.objects.using(using).get(pk=manifest["workspace"]["id"])
    problems = {}
    for part in chain.checked_parts(manifest):  # unchanged models are counted too
        if part.get("scope") != "workspace" or (not strict and part["model"] in KEEP_FOREVER):
            continue
        entry = known[part["model"]]
        n = registry.workspace_queryset(entry, workspace).using(using).count()
        if n != part["keys"]["rows"]:
            problems[part["model"]] = (
                f"{part['model']}: {n} rows, the backup lists {part['keys']['rows']}"
            )
    return problems


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


def _remove_later_files(manifest: dict[str, Any]) -> int:
    """Delete files under the workspace's prefix that the backup's state did not have."""
    media = archive.media_storage()
    known = {f["path"] for f in manifest["files"]} | set(manifest.get("missing_files", []))
    removed = 0
    for path in list(archive.walk(media, f"workspaces/{manifest['workspace']['id']}")):
        if path not in known:
            media.delete(path)
            removed += 1
    return removed


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
    if "workspace" not in archive.read_manifest(backup_id):
        raise ValidationFailed(
            f"Backup {backup_id} is an instance backup; restore it with `manage.py restore "
            "--instance`."
        )
    with archive.scratch_dir() as tmp:
        manifests = _fetch_verified(backup_id, tmp, progress=progress)
        for manifest in manifests:
            versions.check_backup_schema(manifest["schema"])
        try:
            result = _restore_verified(manifests, backup_id, actor, progress)
        except DatabaseError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Conflict(
                f"Restore of backup {backup_id} failed and was rolled back (the database is "
                f"unchanged): {first}"
            ) from exc
    return result


def _restore_verified(
    manifests: list[dict[str, Any]], backup_id: str, actor: User | None, progress: Progress
) -> dict[str, Any]:
    manifest = manifests[-1]
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
            loaded = load_chain(
                manifests, using="default", team_existed=team_existed, progress=progress
            )
        workspace = Workspace.objects.get(pk=ws_info["id"])
        files = _restore_files(manifest)
        rebuilt = _views_after_restore(manifest, workspace)
        for each in manifests:
            catalogue(each)
        audit_record(
            action=AuditAction.RESTORE,
            summary=f"Restored workspace {workspace.slug} from backup {backup_id}",
            actor=actor,
            workspace=workspace,
            target=workspace,
            data={
                "backup_id": backup_id,
                "chain": [m["backup_id"] for m in manifests],
                "mode": "replace" if existing is not None else "create",
                "rows": sum(loaded.values()),
                "deleted_rows": sum(deleted.values()),
                "files": files,
                "views_rebuilt": rebuilt,
            },
        )
    # Files the workspace gained after the backup go too, once the rows are committed.
    _remove_later_files(manifest)
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
            "kind": manifest.get("kind", BackupKind.FULL),
            "parent_backup_id": manifest.get("parent") or "",
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
