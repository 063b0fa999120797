"""The exact backend, keyword search, RRF and artifact indexing through the common port."""

import numpy as np
import pytest

from config.celery import app as celery_app
from tests.factories import ProjectFactory
from vectors import services, store
from vectors.models import Chunk, Embedding, Namespace

from .helpers import ingest, prose

pytestmark = pytest.mark.django_db


def _brute_force(namespace, vector, k, allowed=None):
    rows = Embedding.objects.filter(namespace=namespace).values_list("chunk_id", "vector")
    scored = [
        (cid, float(store.from_blob(blob, 256) @ vector))
        for cid, blob in rows
        if allowed is None or cid in allowed
    ]
    return [cid for cid, _ in sorted(scored, key=lambda s: -s[1])[:k]]


def test_exact_backend_matches_brute_force_with_and_without_filter(project, embedder):
    files = [ingest(project, prose(40 + i, 700).encode(), name=f"{i}.txt") for i in range(3)]
    ns = store.namespace_for(project.pk, "chunks")
    vector = embedder.embed(["glacier canyon river"])[0]
    backend = store.exact_backend()
    got = backend.query(namespace=ns, vector=vector, k=5)
    assert [cid for cid, _ in got] == _brute_force(ns, vector, 5)
    assert all(a[1] >= b[1] for a, b in zip(got, got[1:], strict=False))
    allowed = set(Chunk.objects.filter(file=files[1]).values_list("id", flat=True))
    filtered = backend.query(namespace=ns, vector=vector, k=3, filter={"fileId": str(files[1].pk)})
    assert [cid for cid, _ in filtered] == _brute_force(ns, vector, 3, allowed)
    assert len(filtered) == min(3, len(allowed))
    by_list = backend.query(
        namespace=ns, vector=vector, k=50, filter={"fileId": [str(f.pk) for f in files[:2]]}
    )
    assert {Chunk.objects.get(pk=c).file_id for c, _ in by_list} == {files[0].pk, files[1].pk}


def test_cached_matrix_follows_writes(project, embedder):
    ns = store.namespace_for(project.pk, "chunks")
    backend = store.exact_backend()
    vector = embedder.embed(["volcano"])[0]
    ingest(project, b"volcano island lava", name="a.txt")
    assert len(backend.query(namespace=ns, vector=vector, k=10)) == 1
    gen = Namespace.objects.get(name=ns).generation
    ingest(project, b"volcano crater ash", name="b.txt")
    assert Namespace.objects.get(name=ns).generation == gen + 1
    assert len(backend.query(namespace=ns, vector=vector, k=10)) == 2


def test_namespaces_do_not_leak_between_projects(project, embedder):
    other = ProjectFactory(workspace=project.workspace)
    ingest(other, b"secret glacier plans", name="other.txt")
    ingest(project, b"public meadow notes", name="mine.txt")
    results = services.search(project=project, query="glacier", k=10)
    assert all(r["metadata"]["projectId"] == str(project.pk) for r in results)
    assert "secret" not in " ".join(r["text"] for r in results)


def test_keyword_search_ranks_exact_words(project, embedder):
    ingest(project, b"The harbor lighthouse guides ships at night.", name="a.txt")
    ingest(project, b"Dunes move slowly across the desert.", name="b.txt")
    results = services.search(project=project, query="lighthouse", mode="keyword")
    assert len(results) == 1 and "lighthouse" in results[0]["text"]
    assert services.search(project=project, query="zzzz", mode="keyword") == []


def test_rrf_fuses_rankings():
    a, b, c = (f"00000000-0000-0000-0000-00000000000{i}" for i in range(3))
    fused = store.rrf([[a, b], [b, c]], k=3)
    assert [cid for cid, _ in fused] == [b, a, c]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_every_new_artifact_version_is_indexed(
    project, embedder, django_capture_on_commit_callbacks
):
    from deployments import services as deploy

    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = deploy.artifact_create(
                project=project,
                kind="spec",
                logical_key="SPEC-1.md",
                content=b"The spec says the lagoon must be protected.",
                content_type="text/markdown",
            )
        with django_capture_on_commit_callbacks(execute=True):
            second = deploy.artifact_create(
                project=project,
                kind="spec",
                logical_key="SPEC-1.md",
                content=b"Version two: the lagoon and the reef.",
                content_type="text/markdown",
            )
        with django_capture_on_commit_callbacks(execute=True):
            deploy.artifact_create(
                project=project, kind="bundle", logical_key="app.tar", content=b"\x00\x01"
            )
    finally:
        celery_app.conf.task_always_eager = False
    ns = store.namespace_for(project.pk, "artifacts")
    chunks = Chunk.objects.filter(namespace=ns).order_by("metadata__artifactVersion")
    assert [c.source_id for c in chunks] == [first.pk, second.pk]
    assert chunks[1].metadata == {
        "projectId": str(project.pk),
        "type": "artifact",
        "artifactId": str(second.pk),
        "artifactKind": "spec",
        "artifactKey": "SPEC-1.md",
        "artifactVersion": 2,
    }
    hits = services.search(
        project=project, query="lagoon", namespace="artifacts", filter={"artifactVersion": 2}
    )
    assert [h["metadata"]["artifactVersion"] for h in hits] == [2]
    # indexing the same version again writes nothing
    assert (
        services.artifact_ingest(
            artifact_id=second.pk,
            project_id=project.pk,
            kind="spec",
            logical_key="SPEC-1.md",
            version=2,
            blob_path=second.blob_path,
            content_type="text/markdown",
        )
        == 0
    )


def test_file_upload_enqueues_ingestion_on_commit(
    project, embedder, django_capture_on_commit_callbacks
):
    from .helpers import upload

    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            file = upload(project, b"Savanna grasses and acacia trees.")
    finally:
        celery_app.conf.task_always_eager = False
    file.refresh_from_db()
    assert file.status == "extracted"
    assert Chunk.objects.filter(file=file).count() == 1
    assert np.isclose(
        np.linalg.norm(store.from_blob(Embedding.objects.get().vector, 256)), 1.0, atol=1e-5
    )


def test_backend_follows_the_database(project, embedder):
    """pgvector when the extension is there (its table mirrors the embeddings), else exact."""
    from django.db import connection

    from vectors import pgvector

    file = ingest(project, prose(50, 600).encode())
    expected = "pgvector" if pgvector.available() else "exact"
    assert store.backend().name == expected
    if expected == "pgvector":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM vectors_hnsw WHERE namespace = %s",
                [store.namespace_for(project.pk, "chunks")],
            )
            assert cursor.fetchone()[0] == Chunk.objects.filter(file=file).count()
    results = services.search(project=project, query="river", mode="vector", k=3)
    assert len(results) == 3
