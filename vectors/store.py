"""The vector store: namespaces, float32 blobs, the exact backend and keyword search.

Two backends answer `query(namespace, vector, k, filter)`:
- **exact** (`ExactBackend`, every database): the namespace's rows are narrowed by their
  metadata in SQL first, then scored by one numpy matrix product; recall is 1.0 by
  construction. Each process caches a namespace's matrix and refreshes it when the
  namespace's generation (bumped on every write) moves.
- **pgvector** (`vectors.pgvector`), chosen when the database is PostgreSQL with the
  `vector` extension available: an HNSW index with iterative scans.

Keyword search uses the database's own full text: SQLite FTS5 (a virtual table kept by
the ingestion service) or PostgreSQL `to_tsvector` with a GIN expression index.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

from common.exceptions import ValidationFailed

from .models import Chunk, Embedding, Namespace

NAMESPACE_KINDS = ("chunks", "artifacts", "repo")
FILTER_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
FILTER_KEYS = {
    "chunks": {"fileId", "chunkId", "pageStart", "pageEnd"},
    "artifacts": {"artifactKind", "artifactKey", "artifactVersion"},
    "repo": {"repoId", "path", "language", "commitSha", "chunkStart", "chunkEnd"},
}


# Metadata keys that mirror an indexed column of Chunk: filtered there, not in the JSON.
COLUMN_KEYS = {"fileId": "file_id", "chunkId": "id"}


def namespace_project(namespace: str) -> str:
    return namespace.split(":")[1]


def namespace_for(project_id, kind: str = "chunks", repo_id=None) -> str:
    if kind == "repo":
        if not repo_id:
            raise ValidationFailed("A repo namespace needs `repo`.", field="repo")
        try:
            repo_id = uuid.UUID(str(repo_id))
        except ValueError:
            raise ValidationFailed("repo is a repository id.", field="repo")
        return f"project:{project_id}:repo:{repo_id}"
    if kind not in NAMESPACE_KINDS:
        raise ValidationFailed(
            f"namespace is one of {', '.join(NAMESPACE_KINDS)}.", field="namespace"
        )
    return f"project:{project_id}:{kind}"


def namespace_kind(namespace: str) -> str:
    parts = namespace.split(":")
    return "repo" if len(parts) >= 4 and parts[2] == "repo" else parts[-1]


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes, dimension: int) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="<f4", count=dimension)


def metadata_filter(namespace: str, filter: dict | None, *, prefix: str = "") -> dict:
    """ORM lookups for a metadata filter `{key: value | [values]}`; 400 on unknown keys."""
    if not filter:
        return {}
    if not isinstance(filter, dict):
        raise ValidationFailed("filter is an object of metadata keys.", field="filter")
    allowed = FILTER_KEYS[namespace_kind(namespace)]
    lookups: dict = {}
    for key, value in filter.items():
        if not FILTER_KEY.match(str(key)) or key not in allowed:
            raise ValidationFailed(
                f"Unknown filter key {key!r}; this namespace filters on "
                f"{', '.join(sorted(allowed))}.",
                field="filter",
            )
        if key in COLUMN_KEYS:  # indexed columns, not a JSON scan
            values = value if isinstance(value, list) else [value]
            try:
                ids = [uuid.UUID(str(v)) for v in values]
            except ValueError:
                raise ValidationFailed(f"{key} takes chunk or file ids.", field="filter")
            lookups[f"{prefix}{COLUMN_KEYS[key]}__in"] = ids
        elif isinstance(value, list):
            if not all(isinstance(v, str | int | float) for v in value):
                raise ValidationFailed("Filter lists hold strings or numbers.", field="filter")
            lookups[f"{prefix}metadata__{key}__in"] = value
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            lookups[f"{prefix}metadata__{key}"] = value
        else:
            raise ValidationFailed("A filter value is a string, number or list.", field="filter")
    return lookups


# --- generations: a counter per namespace that moves on every write --------------------


def generation(namespace: str) -> int | None:
    return Namespace.objects.filter(name=namespace).values_list("generation", flat=True).first()


# --- the exact backend ----------------------------------------------------------------


@dataclass
class _Matrix:
    generation: int
    ids: list  # chunk ids as the database returns them (hex str on SQLite, UUID on PostgreSQL)
    index: dict  # database id value -> row of `matrix`
    matrix: np.ndarray
    # metadata filter (as a canonical key) -> rows of `matrix` it selects, at this generation
    filters: dict = field(default_factory=dict)


FILTER_CACHE = 64  # filters remembered per namespace matrix (cleared when the generation moves)


def _filter_key(filter: dict) -> str:
    import json

    return json.dumps(filter, sort_keys=True, default=str)


class ExactBackend:
    """SQL metadata filter first, then one numpy scan over the survivors (recall 1.0).

    Per process, a namespace's vectors are one float32 matrix, rebuilt when the namespace's
    generation moves (every write bumps it). A filter is answered by SQL (raw ids, no model
    instances), its matrix rows remembered for that generation, so a repeated filter costs
    one generation check and the scan of its rows."""

    name = "exact"

    def __init__(self) -> None:
        self._cache: dict[str, _Matrix] = {}
        self._lock = threading.Lock()

    def _matrix(self, namespace: str) -> _Matrix:
        gen = generation(namespace)
        if gen is None:
            return _Matrix(0, [], {}, np.zeros((0, 0), dtype=np.float32))
        with self._lock:
            cached = self._cache.get(namespace)
            if cached is not None and cached.generation == gen:
                return cached
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT chunk_id, dimension, vector FROM {Embedding._meta.db_table} "  # noqa: S608
                "WHERE namespace = %s ORDER BY chunk_id",
                [namespace],
            )
            rows = cursor.fetchall()
        ids = [r[0] for r in rows]
        if rows:
            dim = rows[0][1]
            matrix = np.frombuffer(b"".join(bytes(r[2]) for r in rows), dtype="<f4")
            matrix = matrix.reshape(len(rows), dim)
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
        built = _Matrix(gen, ids, {cid: i for i, cid in enumerate(ids)}, matrix)
        with self._lock:
            self._cache.pop(namespace, None)
            self._cache[namespace] = built
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
        return built

    def _rows(self, data: _Matrix, namespace: str, filter: dict) -> np.ndarray:
        """Matrix rows of the chunks matching `filter`: SQL first, remembered per generation."""
        key = _filter_key(filter)
        rows = data.filters.get(key)
        if rows is not None:
            return rows
        lookups = metadata_filter(namespace, filter)
        sql, params = (
            Chunk.objects.filter(
                project_id=namespace_project(namespace), namespace=namespace, **lookups
            )
            .values_list("id", flat=True)
            .order_by()
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        index = data.index
        rows = np.fromiter((index[r[0]] for r in found if r[0] in index), dtype=np.int64, count=-1)
        rows.sort()
        if len(data.filters) >= FILTER_CACHE:
            data.filters.pop(next(iter(data.filters)))
        data.filters[key] = rows
        return rows

    def query(
        self, *, namespace: str, vector: np.ndarray, k: int, filter: dict | None = None
    ) -> list[tuple[uuid.UUID, float]]:
        data = self._matrix(namespace)
        if not data.ids:
            return []
        if data.matrix.shape[1] != len(vector):
            raise ValidationFailed(
                f"This namespace holds {data.matrix.shape[1]}-dimension vectors; the query has "
                f"{len(vector)}.",
                field="query",
            )
        vector = np.asarray(vector, dtype=np.float32)
        if filter:
            rows = self._rows(data, namespace, filter)
            if rows.size == 0:
                return []
            scores = data.matrix[rows] @ vector
        else:
            rows = None
            scores = data.matrix @ vector
        k = min(k, scores.shape[0])
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = rows[top] if rows is not None else top
        return [(_uuid(data.ids[i]), float(scores[j])) for i, j in zip(picked, top, strict=True)]


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


_exact = ExactBackend()


def exact_backend() -> ExactBackend:
    return _exact


def backend():
    """The vector backend for this database: pgvector when available, else the exact scan."""
    from . import pgvector

    if pgvector.available():
        return pgvector.backend()
    return _exact


# --- keyword search ------------------------------------------------------------------

FTS_TABLE = "vectors_chunk_fts"
TOKEN = re.compile(r"\w+", re.UNICODE)


def _terms(query: str) -> list[str]:
    return [t.lower() for t in TOKEN.findall(query or "")][:32]


def fts_insert(chunks: list[Chunk]) -> None:
    if connection.vendor != "sqlite" or not chunks:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE} (chunk_id, namespace, text) VALUES (%s, %s, %s)",  # noqa: S608
            [(c.pk.hex, c.namespace, c.text) for c in chunks],
        )


def fts_delete(chunk_ids: list) -> None:
    if connection.vendor != "sqlite" or not chunk_ids:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(chunk_ids), 500):
            part = [uuid.UUID(str(c)).hex for c in chunk_ids[start : start + 500]]
            marks = ",".join(["%s"] * len(part))
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE chunk_id IN ({marks})", part)  # noqa: S608


def keyword_query(
    *, namespace: str, query: str, k: int, filter: dict | None = None
) -> list[tuple[uuid.UUID, float]]:
    """Chunks of `namespace` matching any of the query's words, best first."""
    terms = _terms(query)
    if not terms:
        return []
    limit = max(k * 20, 200)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
            cursor.execute(
                f"SELECT chunk_id, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "  # noqa: S608
                f"WHERE {FTS_TABLE} MATCH %s AND namespace = %s ORDER BY rank LIMIT %s",
                [match, namespace, limit],
            )
            hits = [(uuid.UUID(cid), -float(rank)) for cid, rank in cursor.fetchall()]
        else:
            tsquery = " | ".join(terms)
            cursor.execute(
                "SELECT id, ts_rank_cd(to_tsvector('english', text), q) AS rank "
                "FROM vectors_chunk, to_tsquery('english', %s) q "
                "WHERE namespace = %s AND to_tsvector('english', text) @@ q "
                "ORDER BY rank DESC, id LIMIT %s",
                [tsquery, namespace, limit],
            )
            hits = [(cid, float(rank)) for cid, rank in cursor.fetchall()]
    lookups = metadata_filter(namespace, filter)
    if lookups and hits:
        keep = set(
            Chunk.objects.filter(pk__in=[h[0] for h in hits], **lookups).values_list(
                "id", flat=True
            )
        )
        hits = [h for h in hits if h[0] in keep]
    return hits[:k]


def rrf(rankings: list[list[uuid.UUID]], *, k: int, c: int = 60) -> list[tuple[uuid.UUID, float]]:
    """Reciprocal rank fusion: score = Σ 1 / (c + rank)."""
    scores: dict[uuid.UUID, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (c + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], str(kv[0])))[:k]
