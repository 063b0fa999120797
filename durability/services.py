"""Durability writes: backup, restore, verify, retention, point-in-time restore.

A backup covers one workspace: every registry model in the backup scope, parents
before children, with the queryset that selects the workspace's rows; the global rows
it references (its team, that team's memberships, every user its rows point at, and
so on transitively) and their history; and every uploaded file and blob its rows name
or that lives under `workspaces/<id>/` in default storage. See `archive` for the
layout and `rows` for the streaming. The registry drives everything: a model added
by any app is covered without touching this module.
"""

from __future__ import annotations

import datetime
import logging
import os
import uuid
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.core.files import File
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.utils import timezone

from common.exceptions import Conflict, NotFound, ValidationFailed
from durability import archive, rows, versions
from durability.models import BackupRecord, BackupStatus, BackupTrigger, VerifyStatus
from governance import registry
from governance.models import AuditAction
from governance.purge import KEEP_FOREVER, delete_workspace_rows

Progress = Callable[[dict], None] | None
logger = logging.getLogger(__name__)


def _key(model) -> str:
    model = model._meta.concrete_model
    return f"{model._meta.app_label}.{model.__name__}"


def _fk_fields(model) -> list:
    return [
        f
        for f in model._meta.concrete_fields
        if (f.many_to_one or f.one_to_one) and f.related_model is not None
    ]


def _team_model():
    from workspaces.models import Workspace

    return Workspace._meta.get_field("team").related_model


def _emit(progress: Progress, **event) -> None:
    if progress is not None:
        progress(event)


# --- what a workspace backup contains ---------------------------------------------


def _scope(workspace, *, using: str = "default") -> list[tuple[registry.Entry, object, dict]]:
    """(entry, queryset, part info) for every part of `workspace`'s backup, in load order."""
    entries = registry.backup_models(include_global=True)
    tenant = [e for e in entries if not e.is_global]
    global_base = [e for e in entries if e.is_global and e.history_of is None]
    global_keys = {e.key for e in global_base}
    team_model = _team_model()
    team_key = _key(team_model)
    selected: dict[str, set] = {e.key: set() for e in global_base}
    team_bound: set[str] = set()
    if team_key in selected:
        selected[team_key].add(workspace.team_id)
    for entry in tenant:
        for f in _fk_fields(entry.model):
            target = _key(f.related_model)
            if target in selected:
                values = (
                    registry.workspace_queryset(entry, workspace)
                    .using(using)
                    .order_by()
                    .values_list(f.attname, flat=True)
                    .distinct()
                )
                selected[target].update(v for v in values if v is not None)
    for entry in global_base:
        for f in _fk_fields(entry.model):
            if f.related_model._meta.concrete_model is team_model and entry.key != team_key:
                team_bound.add(entry.key)
                ids = entry.model._default_manager.using(using).filter(
                    **{f.attname: workspace.team_id}
                )
                selected[entry.key].update(ids.values_list("pk", flat=True))
    changed = True
    while changed:  # follow global rows' own foreign keys (a membership's user, ...)
        changed = False
        for entry in global_base:
            if not selected[entry.key]:
                continue
            for f in _fk_fields(entry.model):
                target = _key(f.related_model)
                if target not in global_keys or target == entry.key:
                    continue
                values = (
                    entry.model._default_manager.using(using)
                    .filter(pk__in=selected[entry.key])
                    .values_list(f.attname, flat=True)
                    .distinct()
                )
                new = {v for v in values if v is not None} - selected[target]
                if new:
                    selected[target] |= new
                    changed = True
    parts = []
    for entry in entries:
        if not entry.is_global:
            parts.append(
                (entry, registry.workspace_queryset(entry, workspace), {"scope": "workspace"})
            )
            continue
        base_key = entry.history_of or entry.key
        if base_key not in selected or not selected[base_key]:
            continue
        qs = entry.model._default_manager.filter(
            **{f"{_tracked_pk_path(entry)}__in": sorted(selected[base_key], key=str)}
        )
        parts.append(
            (entry, qs.order_by("pk"), {"scope": "global", "team_bound": base_key in team_bound})
        )
    return parts


def _tracked_pk_path(entry: registry.Entry) -> str:
    """How rows of `entry` name the global row they belong to (its primary key)."""
    if entry.history_of is None:
        return "pk"
    names = {f.name for f in entry.model._meta.fields}
    if "m2m_history_id" in names and "history" in names:
        return "history__id"  # simple-history's many-to-many snapshot rows
    return "id"  # a historical row carries the tracked row's id


def _path_fields(model) -> list[str]:
    return [
        f.attname
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField)
        or (isinstance(f, models.CharField) and f.name.endswith("_path"))
    ]


def _workspace_files(workspace, *, using: str = "default") -> list[str]:
    """Every file in default storage the workspace owns: named by its rows, or under its prefix."""
    paths: set[str] = set()
    for entry in registry.backup_models():
        if entry.history_of:
            continue  # history names the same files as the live rows (or older, still kept)
        for attname in _path_fields(entry.model):
            values = (
                registry.workspace_queryset(entry, workspace)
                .using(using)
                .order_by()
                .exclude(**{attname: ""})
                .exclude(**{f"{attname}__isnull": True})
                .values_list(attname, flat=True)
                .distinct()
            )
            paths.update(str(v) for v in values)
    paths.update(archive.walk(archive.media_storage(), f"workspaces/{workspace.pk}"))
    return sorted(paths)


# --- backup -----------------------------------------------------------------------


def new_backup_id(workspace, at: datetime.datetime) -> str:
    return f"{workspace.slug}-{at.astimezone(datetime.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


@contextmanager
def _snapshot(using: str):
    """One consistent read snapshot for every part (REPEATABLE READ on PostgreSQL)."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def backup_create(
    *,
    workspace,
    actor=None,
    trigger: str = BackupTrigger.MANUAL,
    progress: Progress = None,
    at: datetime.datetime | None = None,
) -> BackupRecord:
    """Write one complete backup of `workspace` to backup storage; manifest last."""
    from governance.services import audit_record

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
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupStatus.FAILED,
            error=(str(exc) or type(exc).__name__)[:2000],
            finished_at=timezone.now(),
        )
        raise
    totals = manifest["totals"]
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


def _export_part(tmp, index, entry, queryset, using, snapshot=None):
    """Write one part to a temp file; returns (filename, rows, checksums).

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


def _write_archive(workspace, backup_id: str, taken_at, progress: Progress) -> dict:
    using = "default"
    parts, files, missing = [], [], []
    connection = connections[using]
    # Parallel reads need committed data and their own connections: PostgreSQL, outside
    # any caller's transaction, sharing one exported snapshot (what pg_dump -j does).
    workers = int(getattr(settings, "BACKUP_WORKERS", 2))
    parallel = connection.vendor == "postgresql" and not connection.in_atomic_block and workers > 1
    with archive.scratch_dir() as tmp, _snapshot(using):
        schema = versions.schema_document(using)
        scope = list(enumerate(_scope(workspace, using=using)))
        if parallel:
            from concurrent.futures import ThreadPoolExecutor

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
            pool = None
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
                        "table": entry.model._meta.db_table,
                        "file": f"parts/{filename}",
                        "rows": count,
                        "columns": [f.column for f in rows.columns(entry.model)],
                        **info,
                        **sums,
                    }
                )
                _emit(progress, stage="backup", model=entry.key, rows=count, bytes=sums["bytes"])
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        media = archive.media_storage()
        for path in _workspace_files(workspace, using=using):
            local = os.path.join(tmp, "blob")
            if not media.exists(path):
                missing.append(path)
                continue
            sha, size = archive.copy_to_local(media, path, local)
            archive.store_file(f"{backup_id}/files/{path}", local)
            os.remove(local)
            files.append({"path": path, "file": f"files/{path}", "bytes": size, "sha256": sha})
            _emit(progress, stage="files", model=path, rows=0, bytes=size)
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


# --- reading an archive back --------------------------------------------------------


def _fetch_verified(backup_id: str, tmp: str, *, progress: Progress = None) -> dict:
    """Manifest plus every part and file downloaded to `tmp` and checked; refuses damage."""
    manifest = archive.read_manifest(backup_id)
    problems = _fetch(manifest, backup_id, tmp, progress)
    if problems:
        raise ValidationFailed(
            f"Backup {backup_id} is damaged and was not restored: {'; '.join(problems)}."
        )
    return manifest


def _fetch(manifest: dict, backup_id: str, tmp: str, progress: Progress) -> list[str]:
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
        _emit(progress, stage="check", model=item.get("model", item.get("path")), bytes=size)
    return problems


def _load(
    manifest: dict,
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
        digest = _Digest()
        count = rows.load(
            entry.model,
            digest.watch(archive.decompressed_blocks(part["_local"])),
            using=using,
            skip_existing=skip_existing,
        )
        if count != part["rows"] or digest.hexdigest() != part["content_digest"]:
            raise ValidationFailed(
                f"Part {part['file']} decoded to {count} rows that do not match the manifest."
            )
        loaded[part["model"]] = count
        _emit(progress, stage="restore", model=part["model"], rows=count, bytes=part["bytes"])
    return loaded


class _Digest:
    def __init__(self):
        self.sha = archive.content_digest()

    def watch(self, blocks):
        for block in blocks:
            self.sha.update(block)
            yield block

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _restore_files(manifest: dict) -> int:
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


def _storage_sha(storage, path: str) -> tuple[str, int]:
    import hashlib

    digest, size = hashlib.sha256(), 0
    with storage.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(archive.BLOCK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# --- restore ----------------------------------------------------------------------


def backup_restore(*, backup_id: str, actor=None, progress: Progress = None) -> dict:
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


def _restore_verified(manifest: dict, backup_id: str, actor, progress: Progress) -> dict:
    from governance.immutability import allow_purge
    from governance.services import audit_record
    from workspaces.models import Workspace

    ws_info = manifest["workspace"]
    with transaction.atomic():
        existing = Workspace.objects.select_for_update().filter(pk=ws_info["id"]).first()
        clash = Workspace.objects.filter(slug=ws_info["slug"]).exclude(pk=ws_info["id"])
        if clash.exists():
            raise Conflict(
                f"Another workspace already uses the slug {ws_info['slug']!r}; rename it "
                "before restoring this backup."
            )
        team_existed = _team_model()._default_manager.filter(pk=ws_info["team_id"]).exists()
        deleted = {}
        with allow_purge():
            if existing is not None:
                deleted = delete_workspace_rows(existing)
            loaded = _load(manifest, using="default", team_existed=team_existed, progress=progress)
        workspace = Workspace.objects.get(pk=ws_info["id"])
        files = _restore_files(manifest)
        rebuilt = _views_after_restore(manifest, workspace)
        _catalogue(manifest)
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


def _views_after_restore(manifest: dict, workspace) -> dict[str, int] | None:
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


def _catalogue(manifest: dict) -> BackupRecord:
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


# --- verify -----------------------------------------------------------------------


@contextmanager
def scratch_database():
    """A migrated, empty, throw-away database as a connection alias (SQLite file or PG db)."""
    import tempfile

    from django.core.management import call_command

    base = dict(connections["default"].settings_dict)
    alias = f"verify_{uuid.uuid4().hex[:8]}"
    vendor = connections["default"].vendor
    tmpdir = None
    if vendor == "postgresql":
        import psycopg

        name = f"{base['NAME']}_{alias}"[:63]
        admin = _pg_admin(base)
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        tmpdir = tempfile.TemporaryDirectory(prefix="holdfast-verify-")
        name = os.path.join(tmpdir.name, "scratch.sqlite3")
    from django.db.utils import load_backend

    # A connection made here and not added to settings.DATABASES: it exists only for
    # this drill (and Django's test isolation treats it as the dynamic connection it is).
    config = {**base, "NAME": name, "TEST": {**base.get("TEST", {})}}
    connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    try:
        call_command("migrate", database=alias, verbosity=0, interactive=False, skip_checks=True)
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        if vendor == "postgresql":
            with psycopg.connect(**admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif tmpdir is not None:
            tmpdir.cleanup()


def _pg_admin(base: dict) -> dict:
    params = {
        "dbname": base["NAME"],
        "user": base.get("USER") or None,
        "password": base.get("PASSWORD") or None,
        "host": base.get("HOST") or None,
        "port": base.get("PORT") or None,
    }
    return {k: v for k, v in params.items() if v}


def backup_verify(*, backup_id: str, actor=None, scratch: bool = True, progress=None) -> dict:
    """Check every checksum, restore into a scratch database and compare with the manifest.

    Records the outcome on the BackupRecord and as an AuditEvent ("verify"). Returns
    {"ok": bool, "problems": [...], "parts": n, "rows": n, "scratch": alias-or-None}.
    """
    from governance.services import audit_record
    from workspaces.models import Workspace

    problems: list[str] = []
    manifest = None
    checked_rows = 0
    try:
        manifest = archive.read_manifest(backup_id)
    except (NotFound, ValidationFailed) as exc:
        problems.append(str(exc))
    if manifest is not None:
        with archive.scratch_dir() as tmp:
            problems += _fetch(manifest, backup_id, tmp, progress)
            if not problems and scratch:
                try:
                    checked_rows = _verify_in_scratch(manifest, progress)
                except (ValidationFailed, DatabaseError) as exc:
                    problems.append(f"restoring into a scratch database failed: {exc}")
                except _Mismatch as exc:
                    problems.append(str(exc))
    ok = not problems
    now = timezone.now()
    record = BackupRecord.objects.filter(backup_id=backup_id).first()
    if record is None and manifest is not None:
        record = _catalogue(manifest)
    if record is not None:
        record.verified_at = now
        record.verify_status = VerifyStatus.PASSED if ok else VerifyStatus.FAILED
        record.verify_detail = "; ".join(problems)[:4000]
        record.save(update_fields=["verified_at", "verify_status", "verify_detail", "updated_at"])
    ws_id = manifest["workspace"]["id"] if manifest else None
    audit_record(
        action=AuditAction.VERIFY,
        summary=f"Verification of backup {backup_id}: {'passed' if ok else 'FAILED'}",
        actor=actor,
        workspace=Workspace.objects.filter(pk=ws_id).first() if ws_id else None,
        target=record,
        data={"backup_id": backup_id, "ok": ok, "problems": problems, "rows": checked_rows},
    )
    return {
        "ok": ok,
        "problems": problems,
        "parts": len(manifest["parts"]) if manifest else 0,
        "rows": checked_rows,
    }


class _Mismatch(Exception):
    pass


def _verify_in_scratch(manifest: dict, progress: Progress) -> int:
    from workspaces.models import Workspace

    same_vendor = manifest.get("vendor") == connections["default"].vendor
    with scratch_database() as alias:
        with transaction.atomic(using=alias):
            loaded = _load(manifest, using=alias, team_existed=False, progress=progress)
        workspace = Workspace.objects.using(alias).get(pk=manifest["workspace"]["id"])
        expected = {p["model"]: p for p in manifest["parts"]}
        total = 0
        for entry, queryset, _info in _scope(workspace, using=alias):
            part = expected.pop(entry.key, None)
            if part is None:
                raise _Mismatch(f"the scratch restore has a part {entry.key} the backup lacks")
            digest = _Digest()
            count = rows.export(queryset, using=alias, write=digest.sha.update)
            if count != part["rows"] or count != loaded[entry.key]:
                raise _Mismatch(
                    f"{entry.key}: {count} rows after restore, the manifest says {part['rows']}"
                )
            if same_vendor and digest.hexdigest() != part["content_digest"]:
                raise _Mismatch(f"{entry.key}: restored rows differ from the backed-up rows")
            total += count
        leftover = [k for k, p in expected.items() if p["rows"]]
        if leftover:
            raise _Mismatch(f"parts not found after restore: {', '.join(leftover)}")
        return total


# --- retention --------------------------------------------------------------------


def retention_keep(
    taken: list[datetime.datetime], *, hourly: int, daily: int, weekly: int
) -> set[datetime.datetime]:
    """Which timestamps a grandfather-father-son policy keeps (restic's semantics).

    Walking newest to oldest, each policy keeps the newest backup of each distinct hour
    (day, ISO week) until it has kept N of them; the newest backup is always kept.
    """
    ordered = sorted(taken, reverse=True)
    keep: set[datetime.datetime] = set(ordered[:1])
    buckets = (
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


def backups_prune(*, workspace_id, actor=None, now: datetime.datetime | None = None) -> dict:
    """Apply the retention policy to one workspace's successful backups; removes the rest.

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
    pruned = []
    for record in records:
        if record.taken_at in keep:
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


def scheduled_backups(*, now: datetime.datetime | None = None) -> dict:
    """The beat job: back up every workspace, then apply retention to its backups."""
    from governance.services import audit_record
    from workspaces.models import Workspace

    results = {}
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
    return results


def scheduled_verify() -> dict:
    """The beat drill: verify the newest successful backup of every workspace."""
    from durability.selectors import newest_backups

    return {r.workspace_slug: backup_verify(backup_id=r.backup_id)["ok"] for r in newest_backups()}


# --- point-in-time restore from history ---------------------------------------------


def _history_entries() -> list[registry.Entry]:
    """Tenant models with simple-history, parents before children."""
    return [
        e
        for e in registry.backup_models()
        if e.history_of is None and registry.has_history(e.model)
    ]


def _resolve_model(label: str) -> registry.Entry:
    by_key = {e.key.lower(): e for e in _history_entries()}
    entry = by_key.get((label or "").lower())
    if entry is None:
        raise ValidationFailed(
            f"{label!r} is not a workspace model with history (use app_label.ModelName).",
            field="model",
        )
    return entry


def _tracked_attnames(model, historical) -> list[str]:
    hist_fields = {f.attname for f in historical._meta.concrete_fields}
    skip = {model._meta.pk.attname, "updated_at"}
    return [
        f.attname
        for f in model._meta.concrete_fields
        if f.attname in hist_fields and f.attname not in skip
    ]


def restore_point(
    *, workspace, at: datetime.datetime, actor, model: str | None = None, object_id=None
) -> dict:
    """Put one object, or every history-tracked object of the workspace, back as it was at `at`.

    Non-destructive: each change is a normal save that writes a new history row with the
    reason "restored to <at> by <actor>"; history is never deleted. An object deleted
    since `at` is recreated. Objects that did not exist at `at` (created later) are left
    as they are and reported under `not_at_that_time`; a row the database refuses to
    change (a frozen table) is reported under `refused`.
    """
    from governance.services import audit_record

    versions.check_writable()
    if at > timezone.now():
        raise ValidationFailed("The point in time is in the future.", field="at")
    if object_id is not None and not model:
        raise ValidationFailed("Name the model of the object to restore.", field="model")
    entries = [_resolve_model(model)] if model else _history_entries()
    who = getattr(actor, "handle", None) or getattr(actor, "email", None) or "system"
    reason = f"restored to {at.astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%SZ} by {who}"[:100]
    report = {"restored": [], "unchanged": 0, "not_at_that_time": [], "refused": []}
    with transaction.atomic():
        for entry in entries:
            _restore_model_at(entry, workspace, at, actor, reason, object_id, report)
        if object_id is not None and not (
            report["restored"]
            or report["unchanged"]
            or report["not_at_that_time"]
            or report["refused"]
        ):
            raise NotFound("That object has no history in this workspace.")
        audit_record(
            action=AuditAction.RESTORE_POINT,
            summary=f"Point-in-time restore of {model or 'the workspace'} to {at.isoformat()}",
            actor=actor,
            workspace=workspace,
            data={
                "at": at.isoformat(),
                "model": model,
                "object_id": str(object_id) if object_id else None,
                "restored": len(report["restored"]),
                "not_at_that_time": len(report["not_at_that_time"]),
                "refused": len(report["refused"]),
            },
        )
    return report


def _restore_model_at(entry, workspace, at, actor, reason, object_id, report) -> None:
    model = entry.model
    historical = model.history.model
    hist_entry = registry.entry_for_model(historical)
    history = registry.workspace_queryset(hist_entry, workspace).order_by()
    live = registry.workspace_queryset(entry, workspace).order_by()
    if object_id is not None:
        history = history.filter(id=object_id)
        live = live.filter(pk=object_id)
    attnames = _tracked_attnames(model, historical)
    at_t: dict = {}
    for row in history.filter(history_date__lte=at).order_by("id", "-history_date", "-pk"):
        at_t.setdefault(row.id, row)
    if object_id is not None and not at_t and not live.exists():
        return
    live_ids = set(live.values_list("pk", flat=True))
    for pk, row in at_t.items():
        if row.history_type == "-":
            if pk in live_ids:
                report["not_at_that_time"].append({"model": entry.key, "id": str(pk)})
            continue
        current = model._default_manager.filter(pk=pk).first()
        if current is not None and all(getattr(current, a) == getattr(row, a) for a in attnames):
            report["unchanged"] += 1
            continue
        obj = current if current is not None else model(pk=pk)
        for attname in attnames:
            setattr(obj, attname, getattr(row, attname))
        obj._change_reason = reason
        obj._history_user = actor
        try:
            with transaction.atomic():
                obj.save(force_insert=current is None)
        except (IntegrityError, DatabaseError) as exc:
            report["refused"].append({"model": entry.key, "id": str(pk), "error": str(exc)[:200]})
            continue
        report["restored"].append(
            {"model": entry.key, "id": str(pk), "action": "updated" if current else "recreated"}
        )
    for pk in sorted(live_ids - set(at_t), key=str):
        report["not_at_that_time"].append({"model": entry.key, "id": str(pk)})
