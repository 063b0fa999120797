"""The backup archive in Django storage alias "backups": layout, manifest, checksums.

    <backup_id>/parts/<NNN>-<app_label.Model>.copy.zst    one per model, zstd COPY text
    <backup_id>/files/<path in default storage>           uploaded files and blobs
    <backup_id>/parts/<NNN>-<app_label.Model>.keys.zst    (a delta) every primary key now
    <backup_id>/parts/<NNN>-<app_label.Model>.deleted.zst (a delta) the keys deleted since
    <backup_id>/manifest.json                              written last

An incremental backup (a delta, format 5) holds, per workspace model, only the rows
created or changed since its parent and what tells the deletes since: for a model with
history the keys its "-" history rows name, for an immutable one nothing (its row count
only), for any other the list of every primary key the workspace has now. Its global
parts hold the global rows its changed rows name, and its `files` list names every file
of the workspace with the backup folder that stores its bytes (`stored_in`).

Parts are streamed to a temporary file while hashed, then handed to `storage.save`
(django-storages' S3 backend uploads large files in multipart chunks). The manifest
carries its own checksum, so a flipped byte anywhere in the archive is caught. A
folder without a manifest is an interrupted backup and is never listed as complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, cast

import zstandard
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from common.exceptions import NotFound, ValidationFailed

# Formats 1 (full) and 2 (incremental, instance) hold JSON-lines parts; 3 and 4 hold parts
# in PostgreSQL's COPY text format (each part says its `encoding`); 5 is a delta that tells
# the deletes of a model with history by a list of the keys deleted since its parent
# (`keys.deleted`) instead of a list of every key; 6 is a delta that writes no part for a
# workspace model with no change since its parent, listing it under `unchanged` with its
# row count instead (a format-5 delta has a part, possibly empty, for every model). Older
# code refuses a format it does not know rather than misread it; this code reads all six.
FORMAT = 3  # a full backup
INSTANCE_FORMAT = 4  # an instance backup
DELTA_FORMAT = 6  # an incremental backup (5: every model a part, even when empty)
READABLE = DELTA_FORMAT
MANIFEST = "manifest.json"
BLOCK = 1 << 20


def backup_storage():
    return storages["backups"]


def media_storage():
    return storages["default"]


class _HashingFile:
    """A write-only file wrapper that counts and hashes what passes through."""

    def __init__(self, fh):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def flush(self):
        self.fh.flush()


class PartWriter:
    """Collects one part's bytes: compressed to a temp file, hashed on both sides.

    Compression and hashing run on the calling thread: zstd and hashlib release the GIL
    on large blocks, so parts read by several backup workers compress in parallel. (A
    compression thread per part cost a thread start and GIL handoffs on every part, most
    of them a few rows.) Memory stays constant: blocks are written as they come.
    """

    def __init__(self, tmpdir: str, name: str):
        self.name = name
        self.path = os.path.join(tmpdir, name.replace("/", "_"))
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in finish()
        self._hashing = _HashingFile(self._fh)
        # The stub asks for a whole IO; the compressor calls only write() and flush().
        sink = cast("IO[bytes]", self._hashing)
        self._zstd = zstandard.ZstdCompressor(level=1).stream_writer(
            sink, closefd=False, write_size=BLOCK
        )
        self.content_sha = content_digest()
        self.content_bytes = 0

    def write(self, data: bytes) -> None:
        self.content_bytes += len(data)
        self.content_sha.update(data)
        self._zstd.write(data)

    def finish(self) -> dict:
        self._zstd.close()
        self._fh.close()
        return {
            "bytes": self._hashing.size,
            "sha256": self._hashing.sha.hexdigest(),
            "content_bytes": self.content_bytes,
            "content_digest": self.content_sha.hexdigest(),
        }

    def abort(self) -> None:
        self._fh.close()


def content_digest():
    """Digest of a part's uncompressed JSON lines (BLAKE2b-256: sha256's safety, 2x faster)."""
    return hashlib.blake2b(digest_size=32)


def store_file(name: str, local_path: str) -> None:
    storage = backup_storage()
    with open(local_path, "rb") as fh:
        saved = storage.save(name, File(fh, name=os.path.basename(name)))
    if saved != name:
        storage.delete(saved)
        raise ValidationFailed(f"Backup storage already holds {name}; backups never overwrite.")


def sha256_file(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def copy_to_local(storage, name: str, local_path: str) -> tuple[str, int]:
    """Download `name` from `storage` to `local_path`; returns (sha256, size)."""
    digest, size = hashlib.sha256(), 0
    with storage.open(name, "rb") as src, open(local_path, "wb") as out:
        for block in iter(lambda: src.read(BLOCK), b""):
            digest.update(block)
            size += len(block)
            out.write(block)
    return digest.hexdigest(), size


def decompressed_blocks(local_path: str) -> Iterator[bytes]:
    with open(local_path, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        yield from iter(lambda: reader.read(BLOCK), b"")


# --- the manifest -----------------------------------------------------------------


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    sealed = {**body, "checksum": hashlib.sha256(_canonical(body)).hexdigest()}
    return json.dumps(sealed, indent=1, sort_keys=True, ensure_ascii=False).encode()


def write_manifest(backup_id: str, manifest: dict) -> None:
    storage = backup_storage()
    name = f"{backup_id}/{MANIFEST}"
    saved = storage.save(name, ContentFile(seal(manifest), name=MANIFEST))
    if saved != name:
        storage.delete(saved)
        raise ValidationFailed(f"Backup {backup_id} already has a manifest.")


def has_manifest(backup_id: str) -> bool:
    return backup_storage().exists(f"{backup_id}/{MANIFEST}")


def read_manifest(backup_id: str) -> dict:
    """The parsed, self-checked manifest; a missing or damaged one is refused."""
    storage = backup_storage()
    name = f"{backup_id}/{MANIFEST}"
    if not _valid_id(backup_id) or not storage.exists(name):
        raise NotFound(f"There is no complete backup {backup_id!r} in backup storage.")
    with storage.open(name, "rb") as fh:
        raw = fh.read()
    try:
        manifest = json.loads(raw)
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        intact = manifest.get("checksum") == hashlib.sha256(_canonical(body)).hexdigest()
    except (ValueError, AttributeError, UnicodeDecodeError):
        intact = False
    if not intact:
        raise ValidationFailed(
            f"The manifest of backup {backup_id} is damaged (checksum mismatch)."
        )
    if manifest.get("format", 0) > READABLE:
        raise ValidationFailed(
            f"Backup {backup_id} uses archive format {manifest['format']}; this code reads "
            f"format {READABLE} and older."
        )
    return manifest


def _valid_id(backup_id: str) -> bool:
    return bool(backup_id) and "/" not in backup_id and ".." not in backup_id


def backup_ids() -> list[str]:
    """Every folder in backup storage, complete or not, sorted by name."""
    try:
        dirs, _ = backup_storage().listdir("")
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(dirs)


def walk(storage, prefix: str) -> Iterator[str]:
    """Every file name under `prefix` (recursively)."""
    try:
        dirs, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in sorted(files):
        yield f"{prefix.rstrip('/')}/{name}" if prefix else name
    for d in sorted(dirs):
        yield from walk(storage, f"{prefix.rstrip('/')}/{d}" if prefix else d)


def delete_backup(backup_id: str) -> int:
    """Remove every file of a backup, manifest first (so it stops looking complete)."""
    if not _valid_id(backup_id):
        raise ValidationFailed(f"{backup_id!r} is not a backup id.")
    storage = backup_storage()
    removed = 0
    if storage.exists(f"{backup_id}/{MANIFEST}"):
        storage.delete(f"{backup_id}/{MANIFEST}")
        removed += 1
    for name in list(walk(storage, backup_id)):
        storage.delete(name)
        removed += 1
    if hasattr(storage, "path"):
        try:
            shutil.rmtree(storage.path(backup_id), ignore_errors=True)
        except NotImplementedError:
            pass
    return removed


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="holdfast-backup-")
