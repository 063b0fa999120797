"""Code search: a repository's synced commit, chunked by lines, in `project:{id}:repo:{repoId}`.

deployments announces a finished sync through the `common.indexing` port
(`repo_synced`); `vectors` enqueues `vectors.ingest_repo` on commit, which calls
`repo_ingest`. The repository is read through the port's repo source (a tree of the commit,
blobs by sha), never by importing deployments.

Idempotent per `(blob sha, extraction version)`: a file whose blob is already indexed at
this version costs no read, no embedding call and no row; changed files get new chunks,
deleted files lose theirs, and all of it is one transaction (a search sees the old commit
or the new one). Binary, non-UTF-8, empty and oversized files are skipped with a reason
(`RepoIndex.skipped`), and not read again while their blob is unchanged.

The indexed commit is the repository's *current* synced commit as the source reports it
(the announced commit is the fallback), so tasks that run late or out of order converge.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from common import indexing
from workspaces.models import Project

from . import store
from .extract import binary_extension, chunk_lines, extraction_version, language_of
from .models import Chunk, ChunkType, RepoIndex
from .services import _embed, _replace_chunks, chunk_id_for

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 512 * 1024


def max_bytes() -> int:
    return int(getattr(settings, "REPO_INDEX_MAX_BYTES", DEFAULT_MAX_BYTES))


@dataclass
class RepoIndexReport:
    namespace: str = ""
    commit_sha: str = ""
    files_indexed: int = 0  # files (re)chunked in this run
    files_unchanged: int = 0
    files_deleted: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    skipped: dict = field(default_factory=dict)
    outcome: str = "indexed"


def _skip_reason(path: str, data: bytes | None) -> tuple[str | None, str]:
    """(reason to skip, text)."""
    if data is None:
        return "a binary file type", ""
    limit = max_bytes()
    if len(data) > limit:
        return f"larger than {limit} bytes ({len(data)})", ""
    if b"\x00" in data[:8192]:
        return "binary (NUL bytes)", ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text", ""
    if not text.strip():
        return "empty", ""
    return None, text


def _current_commit(repo_id: str, project_id: str, announced: str) -> str:
    for row in indexing.repos(project_id):
        if str(row["id"]) == str(repo_id):
            return row.get("commit_sha") or announced
    return announced


def _existing(namespace: str) -> dict[str, dict]:
    """path -> {"sha", "version", "ids"} of the chunks the namespace holds."""
    out: dict[str, dict] = {}
    rows = Chunk.objects.filter(namespace=namespace).values_list(
        "id", "source_sha256", "extraction_version", "metadata"
    )
    for cid, sha, version, meta in rows:
        entry = out.setdefault(meta.get("path", ""), {"sha": sha, "version": version, "ids": []})
        entry["ids"].append(cid)
        if entry["sha"] != sha or entry["version"] != version:
            entry["sha"] = ""  # mixed: treat as changed
    return out


def repo_ingest(
    *, repo_id, project_id, commit_sha: str = "", force: bool = False
) -> RepoIndexReport:
    """Bring `project:{project}:repo:{repo}` to the repository's synced commit."""
    repo_id = str(uuid.UUID(str(repo_id)))
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return RepoIndexReport(outcome="missing")
    namespace = store.namespace_for(project.pk, "repo", repo_id)
    report = RepoIndexReport(namespace=namespace)
    commit = _current_commit(repo_id, str(project.pk), commit_sha)
    report.commit_sha = commit
    version = extraction_version()
    state = RepoIndex.objects.filter(repo_id=repo_id).first()
    if not commit:
        report.outcome = "no commit"
        return report
    if (
        not force
        and state is not None
        and state.commit_sha == commit
        and state.extraction_version == version
    ):
        report.outcome = "current"
        report.skipped = dict(state.skipped)
        return report
    reader = indexing.open_repo(repo_id)
    if reader is None:
        report.outcome = "missing"
        return report
    try:
        tree = reader.tree(commit)
        existing = _existing(namespace)
        previous_skips = state.skipped if state and state.extraction_version == version else {}
        texts: dict[str, tuple[str, str]] = {}
        for path, sha in sorted(tree.items()):
            held = existing.get(path)
            if not force and held and held["sha"] == sha and held["version"] == version:
                report.files_unchanged += 1
                continue
            prev = previous_skips.get(path)
            if not force and prev and prev.get("sha") == sha:
                report.skipped[path] = prev
                continue
            data = None if binary_extension(path) else reader.blob(sha)
            reason, text = _skip_reason(path, data)
            if reason:
                report.skipped[path] = {"sha": sha, "reason": reason}
            else:
                texts[path] = (sha, text)
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    chunks: list[Chunk] = []
    embed_texts: list[str] = []
    for path, (sha, text) in texts.items():
        language = language_of(path)
        for piece in chunk_lines(text):
            cid = chunk_id_for(f"{repo_id}:{path}:{sha}", version, piece.ordinal)
            chunks.append(
                Chunk(
                    id=cid,
                    project=project,
                    namespace=namespace,
                    type=ChunkType.CODE,
                    source_id=repo_id,
                    ordinal=piece.ordinal,
                    text=piece.text,
                    char_start=piece.char_start,
                    char_end=piece.char_end,
                    source_sha256=sha,
                    extraction_version=version,
                    metadata={
                        "projectId": str(project.pk),
                        "type": "code",
                        "repoId": repo_id,
                        "path": path,
                        "language": language,
                        "commitSha": commit,
                        "chunkStart": piece.line_start,
                        "chunkEnd": piece.line_end,
                    },
                )
            )
            embed_texts.append(f"{path}\n{piece.text}")
    vectors, model, dimension = _embed(embed_texts)
    report.files_indexed = len(texts)
    with transaction.atomic():
        locked, _ = RepoIndex.objects.select_for_update().get_or_create(
            repo_id=repo_id, defaults={"project": project, "namespace": namespace}
        )
        # Re-read under the lock: another run may have moved the namespace meanwhile.
        existing = _existing(namespace)
        gone = {p for p in existing if p not in tree}
        replaced = set(texts) | {p for p in existing if p in report.skipped}
        if force:
            replaced |= set(existing)
        old = [cid for p in gone | replaced if p in existing for cid in existing[p]["ids"]]
        report.files_deleted = len(gone)
        report.chunks_deleted = len(old)
        report.chunks_written = len(chunks)
        if old or chunks:
            _replace_chunks(
                project=project,
                namespace=namespace,
                old=old,
                chunks=chunks,
                vectors=vectors,
                model=model,
                dimension=dimension,
            )
        locked.project = project
        locked.namespace = namespace
        locked.commit_sha = commit
        locked.extraction_version = version
        locked.skipped = report.skipped
        locked.files = len(tree) - len(report.skipped)
        locked.chunks = Chunk.objects.filter(namespace=namespace).count()
        locked.save()
    if report.skipped:
        logger.info("repo %s: %d files not indexed", repo_id, len(report.skipped))
    return report


def project_repos_reindex(*, project: Project) -> int:
    """Rebuild every repository namespace of `project` at its synced commit (reindex)."""
    rows = indexing.repos(project.pk)
    for row in rows:
        repo_ingest(
            repo_id=row["id"],
            project_id=project.pk,
            commit_sha=row.get("commit_sha") or "",
            force=True,
        )
    return len(rows)


def repo_index_list(*, project: Project) -> list[RepoIndex]:
    """The project's indexed repositories, each with a `label` (the repository's name)."""
    indexes = list(RepoIndex.objects.filter(project=project).order_by("namespace"))
    if not indexes:
        return []
    names = {str(r["id"]): r.get("name") or "" for r in indexing.repos(project.pk)}
    for index in indexes:
        index.label = names.get(str(index.repo_id)) or str(index.repo_id)  # type: ignore[attr-defined]
    return indexes
