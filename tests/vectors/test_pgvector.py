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


def _vacuumed(pgvector_alias):
    """Pages marked all-visible (autovacuum does this after inserts): index-only scans."""
    with connections[pgvector_alias].cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {pgvector.TABLE}")


def test_file_id_column_is_written_from_the_metadata(pgvector_alias, django_db_blocker, loaded):
    with django_db_blocker.unblock(), connections[pgvector_alias].cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {pgvector.TABLE} "  # noqa: S608
            "WHERE file_id IS DISTINCT FROM (metadata ->> 'fileId')::uuid"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT count(*) FROM {pgvector.TABLE} WHERE file_id = %s", [TAG["rare"]])  # noqa: S608
        assert cursor.fetchone()[0] >= N // 100 - 1  # test_delete_removes_rows drops one


@pytest.mark.parametrize("tags", [["rare"], ["some"], ["rare", "some"]], ids=["1%", "10%", "list"])
def test_small_file_filter_is_an_exact_scan(pgvector_alias, django_db_blocker, loaded, tags):
    """A fileId filter under EXACT_BELOW returns exactly the exact top-k: same ids, same order,
    float32 scores, for one file id or a list of them."""
    backend = pgvector.PgvectorBackend(using=pgvector_alias)
    rng = np.random.default_rng(5)
    wanted = np.isin(loaded["tags"], [str(TAG[t]) for t in tags])
    with django_db_blocker.unblock():
        _vacuumed(pgvector_alias)
        with connections[pgvector_alias].cursor() as cursor:  # test_delete_removes_rows drops one
            cursor.execute(f"SELECT chunk_id FROM {pgvector.TABLE}")  # noqa: S608
            present = {r[0] for r in cursor.fetchall()}
        rows = np.flatnonzero(wanted & np.array([i in present for i in loaded["ids"]]))
        for _ in range(10):
            query = rng.standard_normal(DIM).astype(np.float32)
            query /= np.linalg.norm(query)
            scores = loaded["vectors"][rows] @ query
            order = np.argsort(-scores)[:K]
            filt = [str(TAG[t]) for t in tags]
            got = backend.query(
                namespace=loaded["namespace"],
                vector=query,
                k=K,
                filter={"fileId": filt if len(filt) > 1 else filt[0]},
            )
            assert [c for c, _ in got] == [loaded["ids"][rows[j]] for j in order]
            assert np.allclose([s for _, s in got], scores[order], atol=1e-5)


def test_file_filter_scan_is_index_only(pgvector_alias, django_db_blocker, loaded, monkeypatch):
    """The exact scan of a file filter reads the vectors from the covering file index, not
    from the heap (nor through the GIN metadata index)."""
    plans = []
    real_run = pgvector.PgvectorBackend._run

    def run(self, where, params, literal, dim, k, *, exact, ef_search):
        if exact:
            with connections[pgvector_alias].cursor() as cursor:
                cursor.execute(
                    f"EXPLAIN SELECT chunk_id, 1 - (embedding <=> %s::vector) AS score "  # noqa: S608
                    f"FROM {pgvector.TABLE} WHERE {' AND '.join(where)} "
                    "ORDER BY score DESC LIMIT %s",
                    [literal, *params, k],
                )
                plans.append(" ".join(r[0] for r in cursor.fetchall()))
        return real_run(self, where, params, literal, dim, k, exact=exact, ef_search=ef_search)

    monkeypatch.setattr(pgvector.PgvectorBackend, "_run", run)
    with django_db_blocker.unblock():
        _vacuumed(pgvector_alias)
        got = pgvector.PgvectorBackend(using=pgvector_alias).query(
            namespace=loaded["namespace"],
            vector=loaded["vectors"][3],
            k=K,
            filter={"fileId": str(TAG["rare"])},
        )
    assert len(got) == K
    assert len(plans) == 1, plans
    assert f"Index Only Scan using {pgvector.FILE_INDEX}" in plans[0], plans[0]


def test_file_filter_with_another_key_stays_exact(pgvector_alias, django_db_blocker):
    """fileId on its column and a metadata key (pageStart) together: the exact top-k of the
    rows matching both, and a chunkId filter answers on the primary key."""
    rng = np.random.default_rng(9)
    namespace = "project:mixed:chunks"
    file_a, file_b = uuid.uuid4(), uuid.uuid4()
    vectors = rng.standard_normal((300, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [uuid.uuid4() for _ in range(300)]
    metas = [
        {"fileId": str(file_a if i % 2 else file_b), "chunkId": str(ids[i]), "pageStart": i % 3}
        for i in range(300)
    ]
    backend = pgvector.PgvectorBackend(using=pgvector_alias)
    with django_db_blocker.unblock():
        pgvector.write(
            namespace=namespace,
            rows=list(zip(ids, metas, vectors, strict=True)),
            dimension=DIM,
            using=pgvector_alias,
        )
        try:
            query = vectors[7]
            rows = [i for i in range(300) if i % 2 and i % 3 == 1]
            scores = vectors[rows] @ query
            want = [ids[rows[j]] for j in np.argsort(-scores)[:K]]
            got = backend.query(
                namespace=namespace,
                vector=query,
                k=K,
                filter={"fileId": str(file_a), "pageStart": 1},
            )
            assert [c for c, _ in got] == want
            got = backend.query(
                namespace=namespace,
                vector=query,
                k=K,
                filter={"chunkId": [str(ids[1]), str(ids[2])]},
            )
            assert {c for c, _ in got} == {ids[1], ids[2]}
        finally:
            pgvector.delete(ids, using=pgvector_alias)


@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic"])
@pytest.mark.parametrize("server_binding", [False, True], ids=["client", "server-binding"])
def test_a_query_is_one_statement_and_its_settings_stay_in_it(
    pgvector_alias, django_db_blocker, loaded, monkeypatch, atomic, server_binding
):
    """Once the filter's estimate is remembered, a query is one round trip (the SET LOCALs and
    the walk in one string); the settings end with its transaction (the implicit one, or the
    caller's atomic block), and the walk still honours them (iterative: k rows for a 1% filter
    at ef_search 40). With server-side binding (no multi-statement strings) the settings go
    first, one by one."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(pgvector, "EXACT_BELOW", 0)  # the walk, with its settings
    backend = pgvector.PgvectorBackend(using=pgvector_alias, ef_search=40)
    filt = {"fileId": str(TAG["rare"])}
    ns, query = loaded["namespace"], loaded["vectors"][5]
    with django_db_blocker.unblock():
        backend.query(namespace=ns, vector=query, k=K, filter=filt)  # estimates remembered
        connection = connections[pgvector_alias]
        if server_binding:
            options = {**connection.settings_dict.get("OPTIONS", {}), "server_side_binding": True}
            monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
        with CaptureQueriesContext(connection) as captured:
            if atomic:
                with transaction.atomic(using=pgvector_alias):
                    got = backend.query(namespace=ns, vector=query, k=K, filter=filt)
            else:
                got = backend.query(namespace=ns, vector=query, k=K, filter=filt)
        assert len(got) == K
        statements = [  # transaction control (the atomic blocks') aside
            q["sql"]
            for q in captured.captured_queries
            if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
        ]
        assert len(statements) == (6 if server_binding else 1), statements
        assert "SET LOCAL hnsw.iterative_scan = 'relaxed_order'" in " ".join(statements)
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_seqscan")
            assert cursor.fetchone()[0] == "on"
            cursor.execute("SHOW hnsw.iterative_scan")
            assert cursor.fetchone()[0] == "off"
