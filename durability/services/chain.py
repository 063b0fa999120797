"""Backup chains: a full backup followed by incremental backups (deltas), each on its parent.

A delta holds, for every workspace model, the rows created or changed since its parent
was taken (less `BACKUP_INCREMENTAL_OVERLAP_SECONDS`, so a transaction that committed
just after the parent's snapshot is not missed: re-reading a row is harmless, a delta's
rows replace what is there) and every primary key the workspace has now (so a delete is
seen as a key that is gone). Its global parts are whole (they are small: one team's
people). Its manifest names its parent and the whole chain back to the full backup.

Restoring a delta loads the full backup and applies each delta in order, in one
transaction (`durability.services.restore`).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings

from common.exceptions import NotFound, ServiceError, ValidationFailed
from durability import archive, rows, versions
from durability.models import BackupRecord, BackupStatus
from durability.services._shared import entry_model
from governance import registry
from governance.models import AuditAction, AuditEvent
from workspaces.models import Workspace


def is_delta(manifest: dict[str, Any]) -> bool:
    return manifest.get("kind") == "incremental"


def checked_parts(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every model entry of a manifest: its parts and (a delta, format 6) its unchanged models.

    A delta lists a workspace model that had no change since its parent under
    `unchanged` (model, table, columns and `keys: {"rows": n}`) instead of writing an empty
    part for it; its rows are exactly the parent's.
    """
    return [*manifest["parts"], *manifest.get("unchanged", [])]


def workspace_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """The rows every workspace model held when `manifest`'s backup was taken."""
    counts = {}
    for part in checked_parts(manifest):
        if part.get("scope") == "workspace":
            counts[part["model"]] = part["keys"]["rows"] if "keys" in part else part["rows"]
    return counts


def delta_since(parent: dict[str, Any]) -> datetime.datetime:
    """From when a delta on `parent` reads changes (the parent's start, less the overlap)."""
    taken = datetime.datetime.fromisoformat(parent["created_at"])
    return taken - datetime.timedelta(seconds=int(settings.BACKUP_INCREMENTAL_OVERLAP_SECONDS))


def _current_columns(entries: list[registry.Entry] | None) -> dict[str, list[str]]:
    entries = registry.backup_models(include_global=True) if entries is None else entries
    return {e.key: [f.column for f in rows.columns(entry_model(e))] for e in entries}


def delta_parent(
    workspace: Workspace, entries: list[registry.Entry] | None = None
) -> dict[str, Any] | None:
    """The manifest a new delta of `workspace` builds on, or None when a full one is needed.

    The newest complete backup of the workspace whose whole chain is in storage, taken at
    the database's present schema (same app version, same columns): a delta never spans a
    migration. Nor a restore: restored rows carry their old timestamps, so after a restore
    the next backup is a full one. `entries` is the backup scope when the caller has it.
    """
    restored = (
        AuditEvent.objects.filter(workspace=workspace, action=AuditAction.RESTORE)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    candidates = BackupRecord.objects.filter(
        workspace_id_scope=workspace.pk, status=BackupStatus.SUCCEEDED
    ).order_by("-taken_at")
    for record in candidates[:5]:
        try:
            manifest = archive.read_manifest(record.backup_id)
            resolve(manifest)
        except ServiceError:
            continue
        if restored is not None and restored >= record.taken_at:
            return None  # restored since: rows went back in time, a delta would miss them
        now_version = versions.schema_document()["app"]["version"]
        if int(manifest["schema"]["app"]["version"]) != int(now_version):
            return None
        columns = _current_columns(entries)
        if any(columns.get(p["model"]) != p["columns"] for p in checked_parts(manifest)):
            return None
        return manifest
    return None


def resolve(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifests to apply for `manifest`, full backup first; refuses a broken chain."""
    if not is_delta(manifest):
        return [manifest]
    found = []
    for backup_id in manifest.get("chain", []):
        try:
            found.append(archive.read_manifest(backup_id))
        except NotFound:
            raise NotFound(
                f"Backup {manifest['backup_id']} depends on {backup_id}, which is not in "
                "backup storage (or is incomplete)."
            ) from None
    if not found or is_delta(found[0]) or found[-1]["backup_id"] != manifest.get("parent"):
        raise ValidationFailed(f"The chain of backup {manifest['backup_id']} is inconsistent.")
    for earlier in found:
        if earlier["workspace"]["id"] != manifest["workspace"]["id"]:
            raise ValidationFailed(f"The chain of backup {manifest['backup_id']} mixes workspaces.")
    return [*found, manifest]


def stored_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every file of `manifest`'s workspace state, each with the backup folder holding it."""
    return {
        f["path"]: {**f, "stored_in": f.get("stored_in", manifest["backup_id"])}
        for f in manifest["files"]
    }


def ancestors(backup_ids: set[str]) -> set[str]:
    """Every backup the given backups depend on (from the catalogue's parent links)."""
    parents = dict(
        BackupRecord.objects.exclude(parent_backup_id="").values_list(
            "backup_id", "parent_backup_id"
        )
    )
    needed: set[str] = set()
    for backup_id in backup_ids:
        current = parents.get(backup_id)
        while current and current not in needed:
            needed.add(current)
            current = parents.get(current)
    return needed
