"""The pgvector backend on a real PostgreSQL with the extension: HNSW with iterative scans
returns k rows for selective filters (plain HNSW does not), with recall against the exact scan."""

import uuid

import numpy as np
import pytest
from django.db import connections

from vectors import pgvector

N, DIM, K = 4000, 32, 10
TAG = {name: uuid.uuid5(uuid.NAMESPACE_URL, name) for name in ("rare", "some", "common")}


@pytest.fixture(scope="module")
def loaded(pgvector_alias, django_db_blocker):
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [uuid.UUID(int=i + 1) for i in range(N)]
    # fileId: 1% of rows carry "rare", 10% "some", the rest "common"
    tags = [
        str(TAG[t])
        for t in ("rare" if i % 100 == 0 else "some" if i % 10 == 0 else "common" for i in range(N))
    ]
    namespace = "project:bench:chunks"
    with django_db_blocker.unblock():
        with connections[pgvector_alias].cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {pgvector.TABLE}")
        pgvector.write(
            namespace=namespace,
            rows=[(ids[i], {"fileId": tags[i]}, vectors[i]) for i in range(N)],
            dimension=DIM,
            using=pgvector_alias,
        )
        with connections[pgvector_alias].cursor() as cursor:
            cursor.execute(f"ANALYZE {pgvector.TABLE}")
    return {"ids": ids, "vectors": vectors, "tags": np.array(tags), "namespace": namespace}


def _exact(loaded, query, tag=None):
    mask = np.ones(N, bool) if tag is None else loaded["tags"] == str(TAG[tag])
    rows = np.flatnonzero(mask)
    scores = loaded["vectors"][rows] @ query
    return [loaded["ids"][rows[j]] for j in np.argsort(-scores)[:K]]


def test_extension_is_detected(pgvector_alias, django_db_blocker):
    with django_db_blocker.unblock():
        assert pgvector.available(pgvector_alias)
        with connections[pgvector_alias].cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            assert cursor.fetchone()[0] >= "0.8"


def test_hnsw_index_is_used(pgvector_alias, django_db_blocker, loaded):
    with django_db_blocker.unblock(), connections[pgvector_alias].cursor() as cursor:
        literal = pgvector._literal(loaded["vectors"][0])
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT chunk_id FROM {pgvector.TABLE} WHERE dimension = {DIM} "  # noqa: S608
            f"ORDER BY embedding::halfvec({DIM}) <=> %s::halfvec({DIM}) LIMIT 10",
            [literal],
        )
        plan = " ".join(r[0] for r in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert pgvector.index_name(DIM) in plan, plan


@pytest.mark.parametrize("exact_below", [0, pgvector.EXACT_BELOW])
@pytest.mark.parametrize("tag", [None, "some", "rare"])
def test_filtered_queries_return_k_rows_with_high_recall(
    pgvector_alias, django_db_blocker, loaded, tag, exact_below, monkeypatch
):
    """exact_below=0 forces the HNSW iterative scan for every filter; the default answers
    these small filters with an exact scan of the matching rows."""
    monkeypatch.setattr(pgvector, "EXACT_BELOW", exact_below)
    backend = pgvector.PgvectorBackend(using=pgvector_alias, ef_search=40)
    rng = np.random.default_rng(11)
    recalls, short = [], 0
    with django_db_blocker.unblock():
        for _ in range(20):
            query = loaded["vectors"][rng.integers(N)] + 0.1 * rng.standard_normal(DIM)
            query = (query / np.linalg.norm(query)).astype(np.float32)
            truth = _exact(loaded, query, tag)
            got = backend.query(
                namespace=loaded["namespace"],
                vector=query,
                k=K,
                filter=None if tag is None else {"fileId": str(TAG[tag])},
            )
            short += len(got) < len(truth)
            recalls.append(len({c for c, _ in got} & set(truth)) / len(truth))
            assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    assert short == 0
    assert np.mean(recalls) >= 0.9, np.mean(recalls)


def test_delete_removes_rows(pgvector_alias, django_db_blocker, loaded):
    with django_db_blocker.unblock():
        gone = loaded["ids"][:1]
        pgvector.delete(gone, using=pgvector_alias)
        with connections[pgvector_alias].cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {pgvector.TABLE} WHERE chunk_id = ANY(%s)",  # noqa: S608
                [gone],
            )
            assert cursor.fetchone()[0] == 0
