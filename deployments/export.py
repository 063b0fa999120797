"""`export.zip`: the latest version of every artifact of a project, streamed as a zip.

The zip is produced while it is sent (constant memory): entries are written with
data descriptors into a sink that the response drains after every block, and
`manifest.json` comes last, listing every entry with its version and sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterable, Iterator

from django.core.files.storage import default_storage
from django.utils import timezone

from .models import Artifact

FORMAT = "holdfast-artifacts/1"
BLOCK = 64 * 1024


class _Sink:
    """A write-only, tell-able stream; zipfile writes into it, the generator drains it."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._offset = 0

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def zip_member_name(kind: str, logical_key: str) -> str:
    """A safe relative path inside the zip: no absolute paths, no `..`, no control characters."""
    parts = [re.sub(r"[\x00-\x1f\\:]", "_", p) for p in logical_key.split("/")]
    parts = [p for p in parts if p not in ("", ".", "..")] or ["_"]
    return "/".join([kind, *parts])


def stream_export(*, project, artifacts: Iterable[Artifact]) -> Iterator[bytes]:
    sink = _Sink()
    entries = []
    used: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for artifact in artifacts:
            name = zip_member_name(artifact.kind, artifact.logical_key)
            if name in used or name == "manifest.json":
                name = f"{name}~v{artifact.version}-{str(artifact.pk)[:8]}"
            used.add(name)
            info = zipfile.ZipInfo(name, date_time=artifact.created_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            digest = hashlib.sha256()
            with default_storage.open(artifact.blob_path, "rb") as src:
                with archive.open(info, "w", force_zip64=artifact.size > 2**31) as dst:
                    for block in iter(lambda src=src: src.read(BLOCK), b""):
                        digest.update(block)
                        dst.write(block)
                        yield sink.drain()
            entries.append(
                {
                    "path": name,
                    "kind": artifact.kind,
                    "logical_key": artifact.logical_key,
                    "version": artifact.version,
                    "sha256": artifact.sha256,
                    "size": artifact.size,
                    "content_type": artifact.content_type,
                    "created_at": artifact.created_at.isoformat(),
                    "run": str(artifact.run_id) if artifact.run_id else None,
                    "verified": digest.hexdigest() == artifact.sha256,
                }
            )
            yield sink.drain()
        manifest = {
            "format": FORMAT,
            "project": {"id": str(project.pk), "slug": project.slug},
            "workspace": str(project.workspace_id),
            "exported_at": timezone.now().isoformat(),
            "artifacts": entries,
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    yield sink.drain()
