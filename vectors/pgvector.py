"""The pgvector backend: HNSW (cosine) with iterative index scans, on PostgreSQL with `vector`.

Chosen automatically when the database is PostgreSQL and the `vector` extension is
installed (`VECTOR_BACKEND=exact` forces the exact scan). Vectors live in their own
table `vectors_hnsw` (chunk id, namespace, the chunk's metadata as jsonb, `vector(dim)`),
kept in the same transaction as the `Embedding` rows it mirrors, with one partial HNSW
index per dimension. A filtered query sets `hnsw.iterative_scan = relaxed_order` so the
index keeps scanning until k rows pass the filter, then re-sorts them exactly.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
from django.conf import settings
from django.db import connections, transaction

from .store import metadata_filter  # noqa: F401  (validated keys, shared with exact)

TABLE = "vectors_hnsw"
_state: dict[str, bool] = {}


def _key(using: str) -> str:
    s = connections[using].settings_dict
    return f"{s.get('HOST')}:{s.get('PORT')}/{s.get('NAME')}"


def available(using: str = "default") -> bool:
    """True on PostgreSQL with the `vector` extension installed (and not VECTOR_BACKEND=exact)."""
    connection = connections[using]
    if getattr(settings, "VECTOR_BACKEND", "") == "exact" or connection.vendor != "postgresql":
        return False
    key = _key(using)
    if key not in _state:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            _state[key] = cursor.fetchone() is not None
    return _state[key]


def reset() -> None:
    _state.clear()


TABLE_SQL = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "chunk_id uuid PRIMARY KEY, namespace varchar(200) NOT NULL, "
    "dimension integer NOT NULL, metadata jsonb NOT NULL DEFAULT '{}', "
    "embedding vector NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_ns_idx ON {TABLE} (namespace)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_meta_idx ON {TABLE} USING gin (metadata jsonb_path_ops)",
]

# A filter the planner expects to match fewer rows than this is answered by an exact scan of
# those rows (found through the GIN metadata index): recall 1.0, no long iterative index walk.
# Larger filters walk the HNSW index with iterative scans, ef_search scaled to the filter's
# selectivity; if that still returns fewer than k rows, the exact scan answers instead (so a
# filter matching k rows always returns k).
EXACT_BELOW = 20_000
EF_SEARCH_MAX = 1000  # pgvector's upper bound for hnsw.ef_search
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 128


def ensure_schema(dimension: int, using: str = "default") -> None:
    """The table (also made by the vectors migration) and the HNSW index for `dimension`."""
    with connections[using].cursor() as cursor:
        for sql in TABLE_SQL:
            cursor.execute(sql)
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {TABLE}_hnsw_{int(dimension)} ON {TABLE} "  # noqa: S608
            f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
            f"WHERE dimension = {int(dimension)}"
        )


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def write(
    *,
    namespace: str,
    rows: list[tuple[uuid.UUID, dict, np.ndarray]],
    dimension: int,
    using: str = "default",
) -> None:
    if not rows:
        return
    ensure_schema(dimension, using)
    _state[f"table:{_key(using)}"] = True
    with connections[using].cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {TABLE} (chunk_id, namespace, dimension, metadata, embedding) "  # noqa: S608
            "VALUES (%s, %s, %s, %s::jsonb, %s::vector) ON CONFLICT (chunk_id) DO UPDATE SET "
            "namespace = EXCLUDED.namespace, metadata = EXCLUDED.metadata, "
            "embedding = EXCLUDED.embedding, dimension = EXCLUDED.dimension",
            [(cid, namespace, dimension, _json(meta), _literal(vec)) for cid, meta, vec in rows],
        )


def delete(chunk_ids: list, using: str = "default") -> None:
    if not chunk_ids or not _table_exists(using):
        return
    with connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE chunk_id = ANY(%s)", [list(chunk_ids)])  # noqa: S608


def _table_exists(using: str = "default") -> bool:
    key = f"table:{_key(using)}"
    if not _state.get(key):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [TABLE])
            _state[key] = cursor.fetchone()[0] is not None
    return _state[key]


def _json(value: dict) -> str:
    import json

    return json.dumps(value, sort_keys=True)


class PgvectorBackend:
    name = "pgvector"

    def __init__(
        self, *, iterative: bool = True, ef_search: int = 400, using: str = "default"
    ) -> None:
        self.iterative = iterative
        self.ef_search = ef_search
        self.using = using
        self.name = "pgvector" if iterative else "pgvector-plain"
        self._totals: dict = {}

    def query(
        self, *, namespace: str, vector: np.ndarray, k: int, filter: dict | None = None
    ) -> list[tuple[uuid.UUID, float]]:
        if not _table_exists(self.using):
            return []
        dim = len(vector)
        where, params = ["namespace = %s", f"dimension = {int(dim)}"], [namespace]
        for key, value in (filter or {}).items():
            metadata_filter(namespace, {key: value})  # validates key and value
            values = value if isinstance(value, list) else [value]
            # containment (@>) so the GIN metadata index answers it
            where.append("(" + " OR ".join(["metadata @> %s::jsonb"] * len(values)) + ")")
            params += [_json({key: v}) for v in values]
        literal = _literal(vector)
        ef_search, exact = self.ef_search, False
        if self.iterative and filter:
            matching, total = self._estimate(where, params), self._total(namespace, dim)
            exact = matching < EXACT_BELOW
            if not exact and total > 0:
                # the index walk meets ~k/selectivity rows before k of them match
                ef_search = min(EF_SEARCH_MAX, max(ef_search, int(4 * k * total / matching)))
        hits = self._run(where, params, literal, dim, k, exact=exact, ef_search=ef_search)
        if len(hits) < k and filter and self.iterative and not exact:
            hits = self._run(where, params, literal, dim, k, exact=True, ef_search=ef_search)
        return hits

    def _run(self, where, params, literal, dim, k, *, exact: bool, ef_search: int):
        # `+ 0` keeps the planner off the HNSW index: an exact scan of the filtered rows
        order = f"(embedding::vector({int(dim)}) <=> %s::vector({int(dim)}))" + (
            " + 0" if exact else ""
        )
        sql = (
            f"SELECT chunk_id, 1 - (embedding::vector({int(dim)}) <=> %s::vector({int(dim)})) "  # noqa: S608
            f"FROM {TABLE} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %s"
        )
        # The index walk is what the settings are for: a filter the planner thinks selective
        # must not turn it into a bitmap scan and sort of a large share of the table.
        index_only = "off" if (self.iterative and not exact) else "on"
        with transaction.atomic(using=self.using), connections[self.using].cursor() as cursor:
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', %s, true), "
                "set_config('hnsw.max_scan_tuples', '200000', true), "
                "set_config('enable_bitmapscan', %s, true), "
                "set_config('enable_seqscan', %s, true)",
                [
                    str(ef_search),
                    "relaxed_order" if self.iterative else "off",
                    index_only,
                    index_only,
                ],
            )
            cursor.execute(sql, [literal, *params, literal, k])
            hits = [(cid, float(score)) for cid, score in cursor.fetchall()]
        # relaxed_order may return rows slightly out of order: re-sort by the exact score.
        return sorted(hits, key=lambda h: -h[1])

    def _total(self, namespace: str, dim: int) -> float:
        """The planner's estimate of the namespace's rows, remembered for a minute."""
        key = (self.using, namespace, dim)
        cached = self._totals.get(key)
        now = time.monotonic()
        if cached is None or now - cached[1] > 60:
            value = self._estimate(["namespace = %s", f"dimension = {int(dim)}"], [namespace])
            self._totals[key] = cached = (value, now)
        return cached[0]

    def _estimate(self, where: list[str], params: list) -> float:
        """The planner's estimate of the rows matching `where` (no rows are read)."""
        with connections[self.using].cursor() as cursor:
            cursor.execute(
                f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {TABLE} WHERE {' AND '.join(where)}",  # noqa: S608
                params,
            )
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            import json

            plan = json.loads(plan)
        return float(plan[0]["Plan"]["Plan Rows"])


_backend = PgvectorBackend()


def backend() -> PgvectorBackend:
    return _backend
