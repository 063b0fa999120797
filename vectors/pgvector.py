"""The pgvector backend: HNSW (cosine) with iterative index scans, on PostgreSQL with `vector`.

Chosen automatically when the database is PostgreSQL and the `vector` extension is
installed (`VECTOR_BACKEND=exact` forces the exact scan). Vectors live in their own
table `vectors_hnsw` (chunk id, namespace, the chunk's metadata as jsonb, `vector(dim)`),
kept in the same transaction as the `Embedding` rows it mirrors, with one partial HNSW
index per dimension over the vectors cast to `halfvec` (half the bytes per graph visit, so a
larger ef_search at the same latency). A filtered query sets `hnsw.iterative_scan =
relaxed_order` so the index keeps scanning until enough rows pass the filter; the index's
candidates are re-ranked by their exact float32 score.

The chunk's file id is also a column, `file_id`, with a covering btree index (namespace,
file_id) that carries the vector itself: a small `fileId` filter is answered by an exact
index-only scan of that file's vectors, which lie next to each other in the index wherever
their rows lie in the table (at 1M rows, 10,000 matching rows took 37 ms p50 through the GIN
metadata index and the heap, 19 ms through a plain btree and the heap, 10 ms index-only).

A query is one round trip: the walk's settings (SET LOCAL) and the query go as one
multi-statement string, and the planner's estimate of a filter's rows (which picks the
exact scan or the walk) is remembered for a minute. On a loaded machine every round trip is
a chance to wait for a core: at 100k rows, load average ~9, interleaved query by query, the
old five (EXPLAIN, BEGIN, set_config, query, COMMIT) against one took p95 from 24 to 13 ms
at 1% and from 117 to 72 ms at 10%.
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
    "embedding vector NOT NULL, file_id uuid)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_ns_idx ON {TABLE} (namespace)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_meta_idx ON {TABLE} USING gin (metadata jsonb_path_ops)",
]
# The covering index of the exact scan of a file filter (also made by migration 0004, which
# adds the column to a table made before it): the vectors ride in the index, so the scan
# reads them in key order without visiting the heap (once vacuum has marked the pages
# all-visible; before that it still answers, fetching the rows).
FILE_INDEX = f"{TABLE}_file_idx"
FILE_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {FILE_INDEX} ON {TABLE} (namespace, file_id) "
    "INCLUDE (dimension, chunk_id, embedding) WHERE file_id IS NOT NULL"
)
TABLE_SQL.append(FILE_INDEX_SQL)
# Metadata keys that are columns of the table: the exact scan and the estimate filter there.
COLUMN_KEYS = {"fileId": "file_id", "chunkId": "chunk_id"}

# A filter the planner expects to match fewer rows than this is answered by an exact scan of
# those rows (found through the GIN metadata index): recall 1.0, no long iterative index walk.
# Larger filters walk the HNSW index with iterative scans, ef_search scaled to the filter's
# selectivity; if that still returns fewer than k rows, the exact scan answers instead (so a
# filter matching k rows always returns k).
EXACT_BELOW = 20_000
# The base ef_search: at 1M, on two builds of the same rows, 500 gave recall 0.994 and
# 0.979-0.986; 600 gave 0.993 on the second (docs/knowledge.md, 2026-12-03 afternoon).
EF_SEARCH = 600
EF_SEARCH_MAX = 1000  # pgvector's upper bound for hnsw.ef_search
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 200
# The index orders by half-precision distance; it returns RERANK x k candidates and the
# exact float32 score picks the k, so halfvec rounding does not cost recall.
RERANK = 2


def index_name(dimension: int) -> str:
    return f"{TABLE}_hnswh_{int(dimension)}"


def ensure_schema(dimension: int, using: str = "default") -> None:
    """The table (also made by the vectors migration) and the HNSW index for `dimension`."""
    with connections[using].cursor() as cursor:
        for sql in TABLE_SQL:
            cursor.execute(sql)
        # the earlier full-precision index, replaced by the halfvec one
        cursor.execute(f"DROP INDEX IF EXISTS {TABLE}_hnsw_{int(dimension)}")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {index_name(dimension)} ON {TABLE} "  # noqa: S608
            f"USING hnsw ((embedding::halfvec({int(dimension)})) halfvec_cosine_ops) "
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
            f"INSERT INTO {TABLE} (chunk_id, namespace, dimension, metadata, embedding, file_id) "  # noqa: S608
            "VALUES (%s, %s, %s, %s::jsonb, %s::vector, %s) ON CONFLICT (chunk_id) DO UPDATE SET "
            "namespace = EXCLUDED.namespace, metadata = EXCLUDED.metadata, "
            "embedding = EXCLUDED.embedding, dimension = EXCLUDED.dimension, "
            "file_id = EXCLUDED.file_id",
            [
                (cid, namespace, dimension, _json(meta), _literal(vec), _file_id(meta))
                for cid, meta, vec in rows
            ],
        )


def _file_id(metadata: dict) -> uuid.UUID | None:
    value = (metadata or {}).get("fileId")
    return uuid.UUID(str(value)) if value else None


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
        self, *, iterative: bool = True, ef_search: int | None = None, using: str = "default"
    ) -> None:
        self.iterative = iterative
        self.ef_search = EF_SEARCH if ef_search is None else ef_search
        self.using = using
        self.name = "pgvector" if iterative else "pgvector-plain"
        self._totals: dict = {}
        self._estimates: dict = {}

    def query(
        self, *, namespace: str, vector: np.ndarray, k: int, filter: dict | None = None
    ) -> list[tuple[uuid.UUID, float]]:
        if not _table_exists(self.using):
            return []
        dim = len(vector)
        base = ["namespace = %s", f"dimension = {int(dim)}"]
        # Two spellings of the same filter. `walk` tests the metadata by containment (@>),
        # which only the GIN index could answer and the walk turns bitmap scans off, so the
        # planner keeps to the HNSW index. `scan` tests fileId/chunkId on their indexed
        # columns (the covering file index, the primary key) and has their statistics,
        # so the exact scan reads only the matching rows and the estimate is the planner's.
        walk, walk_params = list(base), [namespace]
        scan, scan_params = list(base), [namespace]
        for key, value in (filter or {}).items():
            metadata_filter(namespace, {key: value})  # validates key and value
            values = value if isinstance(value, list) else [value]
            walk.append("(" + " OR ".join(["metadata @> %s::jsonb"] * len(values)) + ")")
            walk_params += [_json({key: v}) for v in values]
            if key in COLUMN_KEYS:
                scan.append(f"{COLUMN_KEYS[key]} = ANY(%s::uuid[])")
                scan_params.append([uuid.UUID(str(v)) for v in values])
            else:
                scan.append(walk[-1])
                scan_params += [_json({key: v}) for v in values]
        literal = _literal(vector)
        ef_search, exact = self.ef_search, False
        if self.iterative and filter:
            matching, total = self._matching(scan, scan_params), self._total(namespace, dim)
            exact = matching < EXACT_BELOW
            if not exact and total > 0:
                # the index walk meets ~k/selectivity rows before k of them match
                ef_search = min(EF_SEARCH_MAX, max(ef_search, int(4 * k * total / matching)))
        if exact:
            return self._run(scan, scan_params, literal, dim, k, exact=True, ef_search=ef_search)
        hits = self._run(walk, walk_params, literal, dim, k, exact=False, ef_search=ef_search)
        if len(hits) < k and filter and self.iterative:
            hits = self._run(scan, scan_params, literal, dim, k, exact=True, ef_search=ef_search)
        return hits

    def _run(self, where, params, literal, dim, k, *, exact: bool, ef_search: int):
        d = int(dim)
        score = f"1 - (embedding::vector({d}) <=> %s::vector({d}))"
        if exact:
            # ordering by the score (not by a distance) keeps the planner off the HNSW index:
            # an exact scan of the filtered rows, one distance per row, without the per-row
            # typmod cast (the WHERE clause already holds the dimension)
            sql = (
                f"SELECT chunk_id, 1 - (embedding <=> %s::vector) AS score FROM {TABLE} "  # noqa: S608
                f"WHERE {' AND '.join(where)} ORDER BY score DESC LIMIT %s"
            )
            args, limit = [literal, *params, k], k
        else:
            # the ordering expression is the index's (halfvec); plain pgvector takes its k as
            # they come, ours re-ranks RERANK x k candidates by the exact score
            limit = k * RERANK if self.iterative else k
            sql = (
                f"SELECT chunk_id, {score} FROM {TABLE} "  # noqa: S608
                f"WHERE {' AND '.join(where)} "
                f"ORDER BY embedding::halfvec({d}) <=> %s::halfvec({d}) LIMIT %s"
            )
            args = [literal, *params, literal, limit]
        # The index walk is what the settings are for: a filter the planner thinks selective
        # must not turn it into a bitmap scan and sort of a large share of the table. The
        # exact scan needs none of them (the session's defaults).
        settings = []
        if not exact:
            off = "off" if self.iterative else "on"
            settings = [
                ("hnsw.ef_search", str(int(max(ef_search, limit)))),
                ("hnsw.iterative_scan", "relaxed_order" if self.iterative else "off"),
                ("hnsw.max_scan_tuples", "200000"),
                ("enable_bitmapscan", off),
                ("enable_seqscan", off),
            ]
        hits = self._execute(settings, sql, args)
        # relaxed_order and halfvec may return rows slightly out of order: re-sort exactly.
        return sorted(hits, key=lambda h: -h[1])[:k]

    def _execute(self, settings: list[tuple[str, str]], sql: str, args: list) -> list:
        """(chunk id, score) rows of `sql`, run with `settings` local to its transaction, in
        one round trip: with client-side parameter binding (Django's default for psycopg 3)
        the SET LOCALs and the query go as one multi-statement string, which PostgreSQL runs
        as one implicit transaction (inside an atomic block, the block's); with server-side
        binding, an atomic block with the settings first (BEGIN, SET, query, COMMIT)."""
        connection = connections[self.using]
        sets = [f"SET LOCAL {name} = '{value}'" for name, value in settings]
        if settings and connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
            with transaction.atomic(using=self.using), connection.cursor() as cursor:
                for statement in sets:
                    cursor.execute(statement)
                cursor.execute(sql, args)
                return [(cid, float(score)) for cid, score in cursor.fetchall()]
        with connection.cursor() as cursor:
            cursor.execute("; ".join([*sets, sql]), args)
            while cursor.description is None and cursor.nextset():
                pass  # psycopg 3 stands on the first statement's result (a SET's)
            return [(cid, float(score)) for cid, score in cursor.fetchall()]

    def _total(self, namespace: str, dim: int) -> float:
        """The planner's estimate of the namespace's rows, remembered for a minute."""
        key = (self.using, namespace, dim)
        cached = self._totals.get(key)
        now = time.monotonic()
        if cached is None or now - cached[1] > 60:
            value = self._estimate(["namespace = %s", f"dimension = {int(dim)}"], [namespace])
            self._totals[key] = cached = (value, now)
        return cached[0]

    def _matching(self, where: list[str], params: list) -> float:
        """The planner's estimate of a filter's rows, remembered for a minute: it changes
        only when the table is analyzed, and asking costs a round trip and a plan."""
        key = (self.using, tuple(where), repr(params))
        cached = self._estimates.get(key)
        now = time.monotonic()
        if cached is None or now - cached[1] > 60:
            if len(self._estimates) >= 1024:
                self._estimates.clear()
            self._estimates[key] = cached = (self._estimate(where, params), now)
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
