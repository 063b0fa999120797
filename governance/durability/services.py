"""Backup writer/reader, verify and restore.

An archive is a directory: one zstd-compressed JSONL file per registered model
(rows streamed in primary-key chunks, constant memory), uploaded files under
``files/``, and ``manifest.json`` written last with each part's sha256 and row count.
A directory without a manifest is an unfinished backup and is never restored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import zstandard
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from common.exceptions import Conflict, ValidationFailed
from governance import registry
from governance.durability.models import BackupRecord, SchemaVersion

FORMAT = 1
CHUNK = 2000
APP_VERSION = 1  # bump with every migration that changes the meaning of stored data
VIEWS_VERSION = 1  # bump when derived (collaboration) views must be rebuilt


def backup_root() -> Path:
    root = Path(settings.BACKUP_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root


def schema_document() -> SchemaVersion:
    doc = SchemaVersion.objects.order_by("created_at").first()
    if doc is None:
        doc = SchemaVersion.objects.create(app_version=APP_VERSION)
    return doc


def check_schema_version() -> None:
    """Refuse writes when the database was written by newer code than this."""
    doc = SchemaVersion.objects.order_by("created_at").first()
    if doc is not None and doc.app_version > APP_VERSION:
        raise Conflict(
            f"The database is at app version {doc.app_version} but this code is version "
            f"{APP_VERSION}; upgrade the code before writing."
        )


def _rows(entry, workspace):
    model = entry.model
    qs = (
        registry.workspace_queryset(entry, workspace)
        if workspace is not None
        else model._default_manager.order_by("pk")
    )
    fields = [f.attname for f in model._meta.concrete_fields]
    if connection.vendor == "postgresql":
        # One server-side cursor: constant memory, one sequential pass.
        for row in qs.values_list(*fields).iterator(chunk_size=CHUNK):
            yield dict(zip(fields, row, strict=True))
        return
    last = None
    while True:
        page = qs if last is None else qs.filter(pk__gt=last)
        chunk = list(page.values_list(*fields)[:CHUNK])
        if not chunk:
            return
        pk_index = fields.index(model._meta.pk.attname)
        for row in chunk:
            yield dict(zip(fields, row, strict=True))
        last = chunk[-1][pk_index]


def _storage_files(prefix: str):
    """Every file in default storage under `prefix` (a workspace's files live under
    ``workspaces/<id>/``)."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in sorted(files):
        yield f"{prefix}/{name}" if prefix else name
    for d in sorted(dirs):
        yield from _storage_files(f"{prefix}/{d}" if prefix else d)


def create_backup(*, workspace=None, progress=None) -> BackupRecord:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    scope = f"ws-{workspace.pk}" if workspace is not None else "all"
    target = backup_root() / f"{stamp}-{scope}"
    target.mkdir(parents=True)
    record = BackupRecord.objects.create(
        location=str(target), workspace_id_scope=getattr(workspace, "pk", None)
    )
    try:
        parts, files, total_rows, total_bytes = [], [], 0, 0
        entries = [
            e
            for e in registry.backup_models(include_global=workspace is None)
            if workspace is None or not e.is_global
        ]
        for entry in entries:
            name = f"{entry.key}.jsonl.zst"
            digest = hashlib.sha256()
            count = 0
            with open(target / name, "wb") as raw:
                with zstandard.ZstdCompressor().stream_writer(raw, closefd=False) as out:
                    for row in _rows(entry, workspace):
                        out.write(json.dumps(row, cls=DjangoJSONEncoder).encode() + b"\n")
                        count += 1
            with open(target / name, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            size = (target / name).stat().st_size
            parts.append(
                {"model": entry.key, "file": name, "rows": count, "sha256": digest.hexdigest()}
            )
            total_rows += count
            total_bytes += size
            if progress:
                progress(entry.key, count)
        prefix = f"workspaces/{workspace.pk}" if workspace is not None else ""
        for path in _storage_files(prefix):
            files.append(_copy_file(path, target))
        manifest = {
            "format": FORMAT,
            "app_version": schema_document().app_version,
            "code_version": APP_VERSION,
            "workspace": str(workspace.pk) if workspace is not None else None,
            "created_at": timezone.now().isoformat(),
            "parts": parts,
            "files": files,
        }
        tmp = target / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1))
        tmp.rename(target / "manifest.json")
        record.status = BackupRecord.Status.SUCCEEDED
        record.row_count, record.byte_count = total_rows, total_bytes
        record.app_version = manifest["app_version"]
    except Exception as exc:
        record.status = BackupRecord.Status.FAILED
        record.error = str(exc)[:2000]
        record.finished_at = timezone.now()
        record.save()
        raise
    record.finished_at = timezone.now()
    record.save()
    return record


def _copy_file(path: str, target: Path) -> dict:
    dest = target / "files" / path
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with default_storage.open(path, "rb") as src, open(dest, "wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return {"path": path, "sha256": digest.hexdigest()}


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(location: str | Path) -> dict:
    path = Path(location) / "manifest.json"
    if not path.exists():
        raise ValidationFailed(f"{location} is not a finished backup (it has no manifest.json).")
    return json.loads(path.read_text())


def verify_backup(location: str | Path) -> list[str]:
    """Every problem found in an archive; an empty list means it is intact."""
    location = Path(location)
    manifest = read_manifest(location)
    problems = []
    for part in manifest["parts"]:
        path = location / part["file"]
        if not path.exists():
            problems.append(f"{part['file']} is missing")
        elif _sha(path) != part["sha256"]:
            problems.append(f"{part['file']} does not match its checksum")
    for item in manifest["files"]:
        path = location / "files" / item["path"]
        if not path.exists() or _sha(path) != item["sha256"]:
            problems.append(f"file {item['path']} is missing or corrupt")
    if not problems:
        BackupRecord.objects.filter(location=str(location)).update(verified_at=timezone.now())
    return problems


def read_rows(location: Path, part: dict):
    with open(location / part["file"], "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        buffer = b""
        for block in iter(lambda: reader.read(1 << 20), b""):
            buffer += block
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line:
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)


def _kept(entry) -> bool:
    """Append-only logs (audit events) are never rolled back: restore only adds the
    rows they are missing. History tables are replaced with the data they describe."""
    return entry.append_only and entry.history_of is None


def restore_backup(location: str | Path, *, actor=None) -> int:
    """Replace the archive's scope with its contents, all or nothing. Returns rows restored."""
    from governance.immutability import allow_purge
    from governance.services import audit_record
    from workspaces.models import Workspace

    location = Path(location)
    manifest = read_manifest(location)
    if manifest["app_version"] > APP_VERSION:
        raise Conflict("This backup was written by newer code; upgrade before restoring it.")
    problems = verify_backup(location)
    if problems:
        raise ValidationFailed("The backup failed verification: " + "; ".join(problems) + ".")
    known = {e.key: e for e in registry.backup_models(include_global=True)}
    unknown = [p["model"] for p in manifest["parts"] if p["model"] not in known]
    if unknown:
        raise ValidationFailed(
            f"The backup holds models this code does not know: {', '.join(unknown)}."
        )
    ws_id = manifest["workspace"]
    restored = 0
    with transaction.atomic(), allow_purge():
        entries = [known[p["model"]] for p in manifest["parts"]]
        workspace = Workspace.objects.filter(pk=ws_id).first() if ws_id else None
        for entry in reversed(entries):
            model = entry.model
            if _kept(entry):
                continue
            if ws_id is None:
                model._default_manager.all()._raw_delete(model._default_manager.db)
            elif workspace is not None:
                registry.workspace_queryset(entry, workspace).order_by()._raw_delete(
                    model._default_manager.db
                )
        for part in manifest["parts"]:
            model = known[part["model"]].model
            keep = _kept(known[part["model"]])
            fields = {f.attname: f for f in model._meta.concrete_fields}
            batch = []
            for row in read_rows(location, part):
                obj = model(**{k: fields[k].to_python(v) for k, v in row.items() if k in fields})
                batch.append(obj)
                if len(batch) >= CHUNK:
                    model._default_manager.bulk_create(batch, ignore_conflicts=keep)
                    restored += len(batch)
                    batch = []
            if batch:
                model._default_manager.bulk_create(batch, ignore_conflicts=keep)
                restored += len(batch)
        for item in manifest["files"]:
            if default_storage.exists(item["path"]):
                default_storage.delete(item["path"])
            with open(location / "files" / item["path"], "rb") as fh:
                default_storage.save(item["path"], File(fh))
        audit_record(
            action="restore",
            summary=f"Restored {restored} rows from {location.name}",
            actor=actor,
            workspace=Workspace.objects.filter(pk=ws_id).first() if ws_id else None,
            data={"location": str(location), "rows": restored},
        )
    return restored
