"""Taking a backup: one workspace's parts, files and manifest written to backup storage.

See `durability.archive` for the layout and `durability.rows` for the streaming; the
manifest is written last, so a backup without one was interrupted and never counts.
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage
from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

from accounts.models import Membership, Role, User
from common import events
from common.exceptions import ValidationFailed
from durability import archive, rows, versions
from durability.models import BackupKind, BackupRecord, BackupStatus, BackupTrigger
from durability.services import chain
from durability.services._shared import Progress, emit, entry_model
from durability.services.scope import (
    PartInfo,
    delta_changes,
    delta_mode,
    delta_plan,
    global_keys,
    global_references,
    global_selection,
    referenced_rows,
    scope_part,
    workspace_files,
)
from governance import registry
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# A delta reads its parts on parallel readers only from this many changed rows on (each
# reader costs a connection and a snapshot import; a few hundred rows are quicker alone).
PARALLEL_ROWS = 20_000


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
    incremental: bool = False,
    full_without_parent: bool = False,
) -> BackupRecord:
    """Write one complete backup of `workspace` to backup storage; manifest last.

    `incremental=True` writes a delta on the workspace's newest complete backup (see
    `durability.services.chain`); it refuses when there is no backup it can build on,
    unless `full_without_parent` (the beat job), which takes a full backup then.
    """
    taken_at = at or timezone.now()
    entries = registry.backup_models(include_global=True)  # the scope, worked out once
    parent = chain.delta_parent(workspace, entries) if incremental else None
    if incremental and parent is None and not full_without_parent:
        raise ValidationFailed(
            f"Workspace {workspace.slug} has no backup an incremental one can build on (none "
            "yet, the schema changed, or the workspace was restored since); take a full "
            "backup first."
        )
    backup_id = new_backup_id(workspace, taken_at)
    record = BackupRecord.objects.create(
        backup_id=backup_id,
        workspace_id_scope=workspace.pk,
        workspace_slug=workspace.slug,
        trigger=trigger,
        kind=BackupKind.INCREMENTAL if parent is not None else BackupKind.FULL,
        parent_backup_id=parent["backup_id"] if parent is not None else "",
        taken_at=taken_at,
        app_version=versions.APP_VERSION,
    )
    try:
        manifest = _write_archive(workspace, backup_id, taken_at, progress, entries, parent)
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
    kind = "Incremental backup" if parent is not None else "Backup"
    audit_record(
        action=AuditAction.BACKUP,
        summary=f"{kind} {backup_id}: {totals['rows']} rows, {totals['files']} files",
        actor=actor,
        workspace=workspace,
        target=record,
        data={
            "backup_id": backup_id,
            "trigger": trigger,
            "kind": record.kind,
            "parent": record.parent_backup_id,
            **totals,
        },
    )
    return record


def _export_part(
    tmp: str,
    index: int,
    entry: registry.Entry,
    queryset: models.QuerySet[Any],
    using: str,
    keys: models.QuerySet[Any] | None = None,
    list_keys: bool = True,
) -> tuple[str, str, int, dict[str, Any], dict[str, Any] | None]:
    """Write one part to a temp file; returns (filename, local path, rows, checksums, keys).

    Read on the calling thread's connection (a `_SnapshotReaders` worker's, inside the
    backup's exported snapshot). With `keys` (a delta's workspace part) every primary key
    of that queryset goes to a second file, or with `list_keys=False` only their number
    is taken: an immutable model's rows are only ever inserted (database triggers refuse
    a delete outside a purge), and a model with history has its deletes in its history.
    """
    filename = f"{index:03d}-{entry.key}.copy.zst"
    writer = archive.PartWriter(tmp, filename)
    count_only = keys is not None and not list_keys
    key_writer = (
        archive.PartWriter(tmp, f"{index:03d}-{entry.key}.keys.zst")
        if keys is not None and not count_only
        else None
    )
    key_count = 0
    try:
        count = rows.export(queryset, using=using, write=writer.write)
        if keys is not None and key_writer is not None:
            key_count = rows.export_keys(keys, using=using, write=key_writer.write)
        elif keys is not None:
            key_count = keys.using(using).order_by().count()
    except BaseException:
        writer.abort()
        if key_writer is not None:
            key_writer.abort()
        raise
    key_info: dict[str, Any] | None = None
    if count_only:
        key_info = {"keys": key_count, "count_only": True}
    elif key_writer is not None:
        key_info = {"name": key_writer.name, "path": key_writer.path, "keys": key_count}
        key_info.update(key_writer.finish())
    return filename, writer.path, count, {"encoding": rows.ENCODING, **writer.finish()}, key_info


def _workspace_part(
    tmp: str,
    index: int,
    entry: registry.Entry,
    data: models.QuerySet[Any],
    using: str,
    refs: list[tuple[str, str]],
    keys: models.QuerySet[Any] | None = None,
    list_keys: bool = True,
    removed: models.QuerySet[Any] | None = None,
) -> tuple[tuple, dict[str, set], dict[str, Any] | None]:
    """A workspace part (a reader's job): the part, the global rows it names, its deletes.

    The global rows are looked up only when the part has rows; `removed` (a delta of a
    model with history) is the query of its deleted keys, written to a file of their own.
    """
    result = _export_part(tmp, index, entry, data, using, keys, list_keys)
    found = referenced_rows(data, refs, using=using) if result[2] else {}
    deleted = None
    if removed is not None:
        gone = sorted(set(removed.using(using).values_list("id", flat=True)), key=str)
        deleted = _deleted_file(tmp, index, entry, gone)
    return result, found, deleted


def _global_part(
    tmp: str, index: int, entry: registry.Entry, qs: models.QuerySet[Any], using: str
) -> tuple[tuple, dict[str, set], None]:
    return _export_part(tmp, index, entry, qs, using), {}, None


def _deleted_file(
    tmp: str, index: int, entry: registry.Entry, removed: list[Any]
) -> dict[str, Any]:
    """The keys a delta's model lost since its parent, to a temp file (none: no file)."""
    if not removed:
        return {"rows": 0}
    writer = archive.PartWriter(tmp, f"{index:03d}-{entry.key}.deleted.zst")
    for start in range(0, len(removed), rows.CHUNK):
        writer.write(b"".join(f"{k}\n".encode() for k in removed[start : start + rows.CHUNK]))
    return {"rows": len(removed), "name": writer.name, "path": writer.path, **writer.finish()}


def _store_deleted(backup_id: str, info: dict[str, Any]) -> dict[str, Any]:
    if "path" not in info:
        return {"rows": info["rows"]}
    archive.store_file(f"{backup_id}/parts/{info['name']}", info["path"])
    os.remove(info["path"])
    return {
        "file": f"parts/{info['name']}",
        "rows": info["rows"],
        "bytes": info["bytes"],
        "sha256": info["sha256"],
        "content_digest": info["content_digest"],
    }


def _unchanged_entry(entry: registry.Entry, rows_now: int, mode: str) -> dict[str, Any]:
    """A delta's record of a workspace model that had no change since the parent.

    No part is written: its rows are exactly the parent's (no row created, changed or,
    by its history, key list count or immutability, deleted since), and `keys.rows` says
    how many there are, for the restore's and the drill's count checks.
    """
    keys: dict[str, Any] = {"rows": rows_now}
    if mode == "view":
        keys["view"] = True
    return {
        "model": entry.key,
        "table": entry_model(entry)._meta.db_table,
        "scope": "workspace",
        "columns": [f.column for f in rows.columns(entry_model(entry))],
        "keys": keys,
    }


def _untouched(
    media: Storage, path: str, earlier: dict[str, Any], since: datetime.datetime
) -> bool:
    """Whether a file the parent recorded is, by its size and modification time, the same.

    The parent read (and hashed) the file after its own start, which is after `since`;
    a file last written before `since` with the size the parent saw has not changed since
    (what rsync assumes; the overlap also covers a storage clock that is up to
    `BACKUP_INCREMENTAL_OVERLAP_SECONDS` behind). A storage that cannot tell a file's
    time gets it read and hashed again.
    """
    try:
        return media.size(path) == earlier["bytes"] and media.get_modified_time(path) < since
    except (NotImplementedError, OSError, ValueError):
        return False


def _run_now(fn: Callable[..., Any], *args: Any) -> Future:
    """`fn(*args)` on this thread, as a finished Future (the serial path of the readers)."""
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except Exception as exc:
        future.set_exception(exc)
    return future


class _SnapshotReaders:
    """Worker threads that each hold one connection inside an exported snapshot.

    What pg_dump -j does: every worker opens its connection once, joins the snapshot of
    the backup's transaction (`SET TRANSACTION SNAPSHOT`) and then reads part after part
    in it. (A connection per part cost ~30 ms each: a new server backend and its setup,
    for ~60 parts most of them small.) Jobs are taken in the order they were submitted.
    """

    def __init__(self, using: str, snapshot: str, workers: int) -> None:
        self.using = using
        self.snapshot = snapshot
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"backup-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._jobs.put((future, fn, args))
        return future

    def close(self) -> None:
        """Let every worker finish its jobs (cancelled ones are skipped) and stop."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        stack = ExitStack()
        failed: BaseException | None = None
        try:
            stack.enter_context(transaction.atomic(using=self.using))
            with connections[self.using].cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [self.snapshot])
        except BaseException as exc:  # every job this worker takes reports it
            failed = exc
        try:
            while (job := self._jobs.get()) is not None:
                future, fn, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                if failed is not None:
                    future.set_exception(failed)
                    continue
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to the thread that reads the result
                    future.set_exception(exc)
        finally:
            try:
                stack.close()  # the read-only transaction ends
            except DatabaseError:
                logger.warning("backup reader: closing its snapshot transaction failed")
            connections[self.using].close()


def _write_archive(
    workspace: Workspace,
    backup_id: str,
    taken_at: datetime.datetime,
    progress: Progress,
    entries: list[registry.Entry],
    parent: dict[str, Any] | None = None,
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
        since = chain.delta_since(parent) if parent is not None else None
        views = versions.view_models()  # regenerated from events: a delta counts their rows
        targets = global_keys(entries)
        # The workspace parts to read: every workspace model for a full backup; for a delta
        # only the models that changed since its parent, found in one statement (the rest
        # are listed as unchanged: their rows are the parent's, no part is written).
        work: list[tuple[int, registry.Entry, tuple]] = []
        unchanged: dict[int, dict[str, Any]] = {}
        changed_rows = 0
        if since is None:
            for i, entry in enumerate(entries):
                if not entry.is_global:
                    # Read in the order the table gives it (on PostgreSQL no sort by a
                    # random UUID key); the drill reads the scratch copy back in load order.
                    qs = registry.workspace_queryset(entry, workspace).order_by()
                    work.append((i, entry, (qs, using, global_references(entry, targets))))
        else:
            assert parent is not None
            candidates = [(i, e) for i, e in enumerate(entries) if not e.is_global]
            found = delta_changes(
                [e for _i, e in candidates],
                workspace=workspace,
                since=since,
                views=views,
                using=using,
                bound=PARALLEL_ROWS,
            )
            counts = chain.workspace_counts(parent)
            for (i, entry), change in zip(candidates, found, strict=True):
                before = counts.get(entry.key)
                if (
                    not change.changed
                    and not change.deleted
                    and before is not None
                    and change.rows in (None, before)
                ):
                    unchanged[i] = _unchanged_entry(entry, before, delta_mode(entry, views))
                    continue
                changed_rows += change.changed
                plan = delta_plan(entry, workspace, since, views)
                refs = global_references(entry, targets)
                list_keys = plan.mode == "keys"
                args = (plan.changed, using, refs, plan.rows, list_keys, plan.removed)
                work.append((i, entry, args))
        # Parallel readers pay a connection each: worth it for a full backup or a delta
        # with many changed rows, not for a delta of a few hundred rows in a few models.
        if parallel and (since is None or changed_rows >= PARALLEL_ROWS):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
            readers: _SnapshotReaders | None = _SnapshotReaders(using, snapshot, workers)
        else:
            readers = None
        submit = readers.submit if readers is not None else _run_now
        pending: dict[int, tuple[registry.Entry, PartInfo, Future]] = {}
        try:
            # Workspace parts first; each reader also notes which global rows the rows it
            # read name (for a delta: the rows changed since), so the global parts follow.
            for i, entry, args in work:
                job = submit(_workspace_part, tmp, i, entry, *args)
                pending[i] = (entry, {"scope": "workspace"}, job)
            referenced: dict[str, set] = {}
            deletes: dict[int, dict[str, Any]] = {}
            for i, (_entry, _info, job) in pending.items():
                _result, found, deleted = job.result()
                for target, keys in found.items():
                    referenced.setdefault(target, set()).update(keys)
                if deleted is not None:
                    deletes[i] = deleted
            selection = global_selection(
                workspace, entries, using=using, referenced=referenced, since=since
            )
            for i, entry in enumerate(entries):
                found_part = scope_part(entry, workspace, selection) if entry.is_global else None
                if found_part is not None:
                    _entry, qs, info = found_part
                    pending[i] = (entry, info, submit(_global_part, tmp, i, entry, qs, using))
            for i in sorted(pending):
                entry, info, job = pending[i]
                filename, local, count, sums, key_info = job.result()[0]
                archive.store_file(f"{backup_id}/parts/{filename}", local)
                os.remove(local)
                part = {
                    "model": entry.key,
                    "table": entry_model(entry)._meta.db_table,
                    "file": f"parts/{filename}",
                    "rows": count,
                    "columns": [f.column for f in rows.columns(entry_model(entry))],
                    **info,
                    **sums,
                }
                if key_info is not None and key_info.get("count_only"):
                    part["keys"] = {"rows": key_info["keys"]}  # no key list
                    if i in deletes:  # deletes told by the model's history
                        part["keys"]["deleted"] = _store_deleted(backup_id, deletes[i])
                    elif entry.key in views:
                        part["keys"]["view"] = True
                elif key_info is not None:
                    archive.store_file(f"{backup_id}/parts/{key_info['name']}", key_info["path"])
                    os.remove(key_info["path"])
                    part["keys"] = {
                        "file": f"parts/{key_info['name']}",
                        "rows": key_info["keys"],
                        "bytes": key_info["bytes"],
                        "sha256": key_info["sha256"],
                        "content_digest": key_info["content_digest"],
                    }
                parts.append(part)
                emit(progress, stage="backup", model=entry.key, rows=count, bytes=sums["bytes"])
        finally:
            if readers is not None:
                for _entry, _info, job in pending.values():
                    job.cancel()  # after a failure: the parts not started yet
                readers.close()
        media = archive.media_storage()
        stored = chain.stored_files(parent) if parent is not None else {}
        for path in workspace_files(workspace, using=using, entries=entries):
            local = os.path.join(tmp, "blob")
            if not media.exists(path):
                missing.append(path)
                continue
            earlier = stored.get(path)
            if since is not None and earlier and _untouched(media, path, earlier, since):
                files.append(earlier)  # not written since the parent read it: not read again
                continue
            sha, size = archive.copy_to_local(media, path, local)
            if earlier is not None and earlier["sha256"] == sha and earlier["bytes"] == size:
                files.append(earlier)  # unchanged: the bytes stay where the chain has them
                os.remove(local)
                continue
            archive.store_file(f"{backup_id}/files/{path}", local)
            os.remove(local)
            item = {"path": path, "file": f"files/{path}", "bytes": size, "sha256": sha}
            if parent is not None:
                item["stored_in"] = backup_id
            files.append(item)
            emit(progress, stage="files", model=path, rows=0, bytes=size)
    new_files = [f for f in files if f.get("stored_in", backup_id) == backup_id]
    manifest: dict[str, Any] = {
        "format": archive.FORMAT if parent is None else archive.DELTA_FORMAT,
        "backup_id": backup_id,
        "kind": "full" if parent is None else "incremental",
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
            "bytes": sum(p["bytes"] + p.get("keys", {}).get("bytes", 0) for p in parts)
            + sum(f["bytes"] for f in new_files),
            "files": len(new_files),
        },
    }
    if parent is not None:
        manifest["unchanged"] = [unchanged[i] for i in sorted(unchanged)]
        manifest["parent"] = parent["backup_id"]
        manifest["chain"] = [*parent.get("chain", []), parent["backup_id"]]
        manifest["since"] = since.isoformat() if since is not None else None
    archive.write_manifest(backup_id, manifest)  # last: from now on the backup is complete
    return manifest
