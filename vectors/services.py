"""Knowledge writes: ingestion of files and artifacts, search, citations, the recall audit.

Ingestion is idempotent per `(file sha256, extraction version)`: a file whose stored chunks
came from these bytes at this version is left alone (no embedding call, no row written).
Otherwise the file is extracted, chunked and embedded outside any transaction, and its old
chunks are replaced by the new ones in one transaction, so a search sees either the old
file or the new one, never half of each. A file that cannot be read ends `failed` with a
one-sentence reason and no chunks.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common import indexing
from common.exceptions import NotFound, ValidationFailed
from workspaces import knowledge
from workspaces.models import FileStatus, Project, ProjectFile

from . import pgvector, store
from .embeddings import get_embedder
from .extract import ExtractionError, TextChunk, chunk_pages, extract_pages, extraction_version
from .models import (
    Chunk,
    ChunkType,
    Citation,
    CitationSource,
    Embedding,
    Namespace,
    RecallAudit,
    SearchQueryLog,
)

logger = logging.getLogger(__name__)

CHUNK_ID_NAMESPACE = uuid.UUID("5b0f3c8e-6f57-4d0e-9a43-6f1d3c0e7a11")
EMBED_BATCH = 256
SEARCH_LOG_DAYS = 30


def chunk_id_for(source_id, version: int, ordinal: int) -> uuid.UUID:
    """Stable ids: reindexing the same bytes at the same version reproduces the same ids."""
    return uuid.uuid5(CHUNK_ID_NAMESPACE, f"{source_id}:{version}:{ordinal}")


def _embed(texts: list[str]) -> tuple[np.ndarray, str, int]:
    embedder = get_embedder()
    parts = [embedder.embed(texts[i : i + EMBED_BATCH]) for i in range(0, len(texts), EMBED_BATCH)]
    matrix = np.vstack(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)
    return matrix, embedder.name, embedder.dimension


def namespace_ensure(*, project: Project, name: str, model: str, dimension: int) -> Namespace:
    """The namespace row, locked; refuses vectors of another dimension than it holds."""
    ns = Namespace.objects.select_for_update().filter(name=name).first()
    if ns is None:
        ns = Namespace(project=project, name=name, model=model, dimension=dimension)
        ns.save(force_insert=True)
        return ns
    has_rows = Embedding.objects.filter(namespace=name).exists()
    if ns.dimension != dimension and has_rows:
        raise ValidationFailed(
            f"Namespace {name} holds {ns.dimension}-dimension vectors; refusing {dimension}-"
            "dimension ones (reindex the project to change the embedding model).",
            field="namespace",
        )
    if (ns.dimension, ns.model) != (dimension, model):
        Namespace.objects.filter(pk=ns.pk).update(dimension=dimension, model=model)
        ns.dimension, ns.model = dimension, model
    return ns


def _replace_chunks(
    *,
    project: Project,
    namespace: str,
    old: list[uuid.UUID],
    chunks: list[Chunk],
    vectors: np.ndarray,
    model: str,
    dimension: int,
) -> None:
    """Inside a transaction: drop `old` chunks, store `chunks` with `vectors`, bump the
    namespace generation."""
    namespace_ensure(project=project, name=namespace, model=model, dimension=dimension)
    use_pg = pgvector.available()
    if old:
        store.fts_delete(old)
        if use_pg:
            pgvector.delete(old)
        Chunk.objects.filter(pk__in=old).delete()
    Chunk.objects.bulk_create(chunks, batch_size=500)
    Embedding.objects.bulk_create(
        [
            Embedding(
                chunk=c,
                project=project,
                namespace=namespace,
                model=model,
                dimension=dimension,
                vector=store.to_blob(vectors[i]),
            )
            for i, c in enumerate(chunks)
        ],
        batch_size=500,
    )
    store.fts_insert(chunks)
    if use_pg:
        pgvector.write(
            namespace=namespace,
            rows=[(c.pk, c.metadata, vectors[i]) for i, c in enumerate(chunks)],
            dimension=dimension,
        )
    Namespace.objects.filter(name=namespace).update(generation=F("generation") + 1)


def _file_chunks(file: ProjectFile, version: int, pieces: list[TextChunk]) -> list[Chunk]:
    namespace = store.namespace_for(file.project_id, "chunks")
    rows = []
    for piece in pieces:
        cid = chunk_id_for(file.pk, version, piece.ordinal)
        rows.append(
            Chunk(
                id=cid,
                project_id=file.project_id,
                namespace=namespace,
                type=ChunkType.CHUNK,
                file=file,
                ordinal=piece.ordinal,
                text=piece.text,
                page_start=piece.page_start,
                page_end=piece.page_end,
                char_start=piece.char_start,
                char_end=piece.char_end,
                source_sha256=file.sha256,
                extraction_version=version,
                metadata={
                    "projectId": str(file.project_id),
                    "type": "chunk",
                    "fileId": str(file.pk),
                    "chunkId": str(cid),
                    "pageStart": piece.page_start,
                    "pageEnd": piece.page_end,
                },
            )
        )
    return rows


def file_is_current(file: ProjectFile, version: int) -> bool:
    """True when the stored outcome came from these bytes at this extraction version."""
    if file.extraction_version != version or file.status == FileStatus.PENDING:
        return False
    if file.status == FileStatus.FAILED:
        return True
    stale = Chunk.objects.filter(file=file).exclude(
        source_sha256=file.sha256, extraction_version=version
    )
    return not stale.exists()


def file_ingest(*, file_id, force: bool = False) -> ProjectFile | None:
    """Extract, chunk, embed and store one file; a no-op when it is already current."""
    file = ProjectFile.objects.select_related("project").filter(pk=file_id).first()
    if file is None:
        return None
    version = extraction_version()
    if not force and file_is_current(file, version):
        return file
    try:
        with default_storage.open(file.blob_path, "rb") as fh:
            data = fh.read()
        pages = extract_pages(data, name=file.name, content_type=file.content_type)
        pieces = chunk_pages(pages)
    except (ExtractionError, OSError) as exc:
        reason = str(exc) if isinstance(exc, ExtractionError) else "The stored file is missing."
        with transaction.atomic():
            old = list(Chunk.objects.filter(file=file).values_list("id", flat=True))
            if old:
                _replace_chunks(
                    project=file.project,
                    namespace=store.namespace_for(file.project_id, "chunks"),
                    old=old,
                    chunks=[],
                    vectors=np.zeros((0, 0), dtype=np.float32),
                    model=get_embedder().name,
                    dimension=get_embedder().dimension,
                )
            return knowledge.project_file_mark(
                file=file, status=FileStatus.FAILED, extraction_version=version, reason=reason
            )
    vectors, model, dimension = _embed([p.text for p in pieces])
    chunks = _file_chunks(file, version, pieces)
    with transaction.atomic():
        ProjectFile.objects.select_for_update().filter(pk=file.pk).first()
        old = list(Chunk.objects.filter(file=file).values_list("id", flat=True))
        _replace_chunks(
            project=file.project,
            namespace=store.namespace_for(file.project_id, "chunks"),
            old=old,
            chunks=chunks,
            vectors=vectors,
            model=model,
            dimension=dimension,
        )
        return knowledge.project_file_mark(
            file=file,
            status=FileStatus.EXTRACTED,
            extraction_version=version,
            page_count=len(pages),
        )


TEXT_ARTIFACT_TYPES = ("text/", "application/json", "application/xml", "application/yaml")


def artifact_ingest(
    *,
    artifact_id,
    project_id,
    kind: str,
    logical_key: str,
    version: int,
    blob_path: str,
    content_type: str = "",
    force: bool = False,
) -> int:
    """Index one artifact version in `project:{id}:artifacts`; returns the chunks written.
    Artifact versions are write-once, so a version already indexed is left alone unless
    `force` (reindex), which replaces its chunks atomically."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    old = list(Chunk.objects.filter(source_id=artifact_id).values_list("id", flat=True))
    if old and not force:
        return 0
    if not (content_type or "").startswith(TEXT_ARTIFACT_TYPES):
        return 0
    try:
        with default_storage.open(blob_path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        logger.warning("artifact %s is not readable text; not indexed", artifact_id)
        return 0
    from .extract import Page

    pieces = chunk_pages([Page(1, text)])
    namespace = store.namespace_for(project.pk, "artifacts")
    ext_version = extraction_version()
    chunks = [
        Chunk(
            id=chunk_id_for(artifact_id, ext_version, p.ordinal),
            project=project,
            namespace=namespace,
            type=ChunkType.ARTIFACT,
            source_id=artifact_id,
            ordinal=p.ordinal,
            text=p.text,
            char_start=p.char_start,
            char_end=p.char_end,
            source_sha256="",
            extraction_version=ext_version,
            metadata={
                "projectId": str(project.pk),
                "type": "artifact",
                "artifactId": str(artifact_id),
                "artifactKind": kind,
                "artifactKey": logical_key,
                "artifactVersion": version,
            },
        )
        for p in pieces
    ]
    vectors, model, dimension = _embed([c.text for c in chunks])
    with transaction.atomic():
        _replace_chunks(
            project=project,
            namespace=namespace,
            old=old,
            chunks=chunks,
            vectors=vectors,
            model=model,
            dimension=dimension,
        )
    return len(chunks)


# --- search --------------------------------------------------------------------------

MODES = ("hybrid", "vector", "keyword")


def search(
    *,
    project: Project,
    query: str,
    namespace: str = "chunks",
    repo=None,
    k: int = 10,
    filter: dict | None = None,
    mode: str = "hybrid",
    log: bool = True,
) -> list[dict]:
    """Hybrid search in one namespace: keyword and vector rankings fused by reciprocal rank."""
    if mode not in MODES:
        raise ValidationFailed(f"mode is one of {', '.join(MODES)}.", field="mode")
    query = (query or "").strip()
    if not query:
        raise ValidationFailed("A search needs a query.", field="query")
    name = store.namespace_for(project.pk, namespace, repo)
    store.metadata_filter(name, filter)  # 400 on a bad filter before any work
    rankings: list[list[tuple[uuid.UUID, float]]] = []
    if mode in ("vector", "hybrid"):
        vector = get_embedder().embed([query])[0]
        rankings.append(
            store.backend().query(namespace=name, vector=vector, k=max(k, 20), filter=filter)
        )
    if mode in ("keyword", "hybrid"):
        rankings.append(
            store.keyword_query(namespace=name, query=query, k=max(k, 20), filter=filter)
        )
    if mode == "hybrid":
        ranked = store.rrf([[cid for cid, _ in r] for r in rankings], k=k)
    else:
        ranked = rankings[0][:k]
    chunks = Chunk.objects.in_bulk([cid for cid, _ in ranked])
    if log and mode != "keyword":
        SearchQueryLog.objects.create(project=project, namespace=name, query=query[:2000])
    return [
        {
            "id": str(cid),
            "score": round(score, 6),
            "type": chunks[cid].type,
            "text": chunks[cid].text,
            "metadata": chunks[cid].metadata,
        }
        for cid, score in ranked
        if cid in chunks
    ]


# --- citations -----------------------------------------------------------------------


def _normalised(text: str) -> str:
    return " ".join(text.split()).lower()


@transaction.atomic
def citation_create(
    *,
    project: Project,
    source_kind: str,
    source_id,
    quote: str,
    actor,
    chunk_id=None,
    file_id=None,
) -> Citation:
    """Link an artifact or chat message to the chunk (or file) it rests on, with the quote."""
    from governance.history import save_tracked

    if source_kind not in CitationSource.values:
        raise ValidationFailed("source_kind is artifact or message.", field="source_kind")
    quote = (quote or "").strip()
    if not quote:
        raise ValidationFailed("A citation quotes the span it rests on.", field="quote")
    chunk = None
    if chunk_id is not None:
        chunk = Chunk.objects.filter(project=project, pk=chunk_id).select_related("file").first()
        if chunk is None or chunk.file is None:
            raise ValidationFailed("No file chunk with this id in this project.", field="chunk")
        if _normalised(quote) not in _normalised(chunk.text):
            raise ValidationFailed("The quote does not appear in the chunk.", field="quote")
        file = chunk.file
    elif file_id is not None:
        file = ProjectFile.objects.filter(project=project, pk=file_id).first()
        if file is None:
            raise ValidationFailed("No file with this id in this project.", field="file")
    else:
        raise ValidationFailed("A citation names a chunk or a file.", field="chunk")
    citation = Citation(
        project=project,
        source_kind=source_kind,
        source_id=source_id,
        file=file,
        chunk_id=chunk.pk if chunk else None,
        quote=quote,
        page_start=chunk.page_start if chunk else None,
        page_end=chunk.page_end if chunk else None,
        created_by=actor,
    )
    save_tracked(citation, actor=actor, reason="citation created")
    return citation


def citation_get(*, project: Project, citation_id) -> Citation:
    citation = Citation.objects.filter(project=project, pk=citation_id).first()
    if citation is None:
        raise NotFound("Citation not found.")
    return citation


@transaction.atomic
def citation_delete(*, citation: Citation, actor) -> None:
    citation._history_user = actor  # type: ignore[attr-defined]
    citation._change_reason = "citation deleted"  # type: ignore[attr-defined]
    citation.delete()


# --- reindex and the recall audit ----------------------------------------------------


def project_reindex(*, project: Project) -> int:
    """Rebuild every file chunk of `project` from its files; returns the files indexed."""
    files = list(ProjectFile.objects.filter(project=project).order_by("created_at"))
    for file in files:
        file_ingest(file_id=file.pk, force=True)
    return len(files)


def project_artifacts_reindex(*, project: Project) -> int:
    """Rebuild every artifact chunk of `project` from its artifact versions, listed by
    deployments through the `common.indexing` port; returns the versions indexed."""
    versions = indexing.artifact_versions(project.pk)
    for row in versions:
        row = dict(row)
        artifact_ingest(artifact_id=row.pop("id"), force=True, **row)
    return len(versions)


def recall_alert() -> float:
    return float(getattr(settings, "RECALL_ALERT", 0.95))


def recall_audit_namespace(
    *, project: Project, namespace: str, queries: list[str], k: int = 10, backend=None
) -> RecallAudit | None:
    """Compare the index's top-k with the exact scan for `queries`; record recall@k."""
    backend = backend or store.backend()
    if not queries:
        return None
    embedder = get_embedder()
    vectors = embedder.embed(queries)
    exact = store.exact_backend()
    total, short = 0.0, 0
    counted = 0
    for vector in vectors:
        truth = [cid for cid, _ in exact.query(namespace=namespace, vector=vector, k=k)]
        if not truth:
            continue
        got = [cid for cid, _ in backend.query(namespace=namespace, vector=vector, k=k)]
        total += len(set(truth) & set(got)) / len(truth)
        short += len(got) < len(truth)
        counted += 1
    if counted == 0:
        return None
    recall = total / counted
    threshold = recall_alert()
    audit = RecallAudit(
        project=project,
        namespace=namespace,
        backend=backend.name,
        k=k,
        queries=counted,
        recall=recall,
        short_results=short,
        threshold=threshold,
        flagged=recall < threshold,
    )
    audit.save(force_insert=True)
    if audit.flagged:
        logger.warning("recall@%s of %s is %.3f (< %.2f)", k, namespace, recall, threshold)
    return audit


def recall_audit_run(*, sample: int = 20, k: int = 10, seed: int | None = None) -> list:
    """The beat job: per namespace, sample stored queries and audit recall; prune old logs."""
    cutoff = timezone.now() - timedelta(days=SEARCH_LOG_DAYS)
    SearchQueryLog.objects.filter(created_at__lt=cutoff).delete()
    rng = random.Random(seed)  # noqa: S311  (sampling, not security)
    audits = []
    for ns in Namespace.objects.select_related("project").order_by("name"):
        logged = list(
            SearchQueryLog.objects.filter(namespace=ns.name)
            .order_by("-created_at")
            .values_list("query", flat=True)[:500]
        )
        picked = rng.sample(logged, min(sample, len(logged)))
        audit = recall_audit_namespace(project=ns.project, namespace=ns.name, queries=picked, k=k)
        if audit is not None:
            audits.append(audit)
    return audits


def latest_recall(*, project: Project) -> list[RecallAudit]:
    """The newest audit of each of the project's namespaces."""
    seen, latest = set(), []
    for audit in RecallAudit.objects.filter(project=project).order_by("-created_at")[:200]:
        if audit.namespace not in seen:
            seen.add(audit.namespace)
            latest.append(audit)
    return latest
