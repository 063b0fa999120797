"""`manage.py reindex` reproduces the chunk set; the recall audit records recall@k."""

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from config.celery import app as celery_app
from tests.factories import ProjectFactory
from vectors import services, store
from vectors.models import Chunk, Embedding, RecallAudit, SearchQueryLog
from vectors.schedule import BEAT_SCHEDULE

from .helpers import ingest, make_pdf, prose

pytestmark = pytest.mark.django_db


def _chunk_set():
    return sorted(
        Chunk.objects.values_list(
            "id", "namespace", "file_id", "ordinal", "text", "page_start", "page_end", "metadata"
        )
    )


def test_reindex_reproduces_the_same_chunk_set(project, embedder):
    other = ProjectFactory()
    ingest(project, prose(11, 900).encode())
    ingest(project, make_pdf([prose(i, 100) for i in range(4)]), name="b.pdf")
    ingest(other, prose(12, 300).encode())
    before = _chunk_set()
    vectors_before = dict(Embedding.objects.values_list("chunk_id", "vector"))
    Chunk.objects.all().delete()
    out = io.StringIO()
    call_command("reindex", stdout=out)
    assert "3 files reindexed" in out.getvalue()
    assert _chunk_set() == before
    after = dict(Embedding.objects.values_list("chunk_id", "vector"))
    assert after.keys() == vectors_before.keys()
    for cid, blob in after.items():
        assert np.allclose(
            store.from_blob(blob, 256), store.from_blob(vectors_before[cid], 256), atol=1e-6
        )


def test_reindex_one_project_and_bad_id(project, embedder):
    other = ProjectFactory()
    ingest(project, b"alpha beta gamma")
    ingest(other, b"delta epsilon")
    other_chunks = list(Chunk.objects.filter(project=other).values_list("id", flat=True))
    call_command("reindex", "--project", str(project.pk), stdout=io.StringIO())
    assert list(Chunk.objects.filter(project=other).values_list("id", flat=True)) == other_chunks
    with pytest.raises(CommandError, match="No project"):
        call_command("reindex", "--project", "not-a-uuid", stdout=io.StringIO())


def test_recall_audit_job_records_recall_per_namespace(project, embedder, settings):
    for i in range(3):
        ingest(project, prose(20 + i, 300).encode(), name=f"{i}.txt")
    for q in ("river canyon", "glacier fjord", "coral reef"):
        services.search(project=project, query=q)
    assert SearchQueryLog.objects.count() == 3
    audits = services.recall_audit_run(sample=5, k=5, seed=1)
    (audit,) = audits
    assert audit.namespace == f"project:{project.pk}:chunks"
    assert (audit.queries, audit.recall, audit.flagged, audit.short_results) == (3, 1.0, False, 0)
    assert audit.backend == store.backend().name
    assert services.latest_recall(project=project) == [audit]


class _HalfRecall:
    """A deliberately poor index: returns the exact top-k with its second half dropped."""

    name = "broken"

    def query(self, *, namespace, vector, k, filter=None):
        hits = store.exact_backend().query(namespace=namespace, vector=vector, k=k)
        return hits[: max(1, k // 2)]


def test_a_namespace_below_recall_alert_is_flagged(project, embedder, settings):
    settings.RECALL_ALERT = 0.95
    ingest(project, prose(30, 2000).encode())
    ns = store.namespace_for(project.pk, "chunks")
    audit = services.recall_audit_namespace(
        project=project, namespace=ns, queries=["river", "dune"], k=4, backend=_HalfRecall()
    )
    assert audit.recall == 0.5 and audit.flagged and audit.short_results == 2
    assert RecallAudit.objects.filter(flagged=True).count() == 1


def test_recall_audit_is_in_the_beat_schedule():
    entry = BEAT_SCHEDULE["vectors-recall-audit"]
    assert entry["task"] == "vectors.recall_audit"
    assert "vectors-recall-audit" in celery_app.conf.beat_schedule
    assert "vectors.recall_audit" in celery_app.tasks


def test_reindex_reproduces_the_same_artifact_chunk_set(project, embedder):
    """Artifact versions come back through the common.indexing port deployments fills."""
    from common import indexing
    from deployments.services import artifact_create

    other = ProjectFactory()
    made = []
    for p, key, text in [
        (project, "coast", prose(30, 900)),
        (project, "coast", prose(31, 300)),
        (project, "notes", prose(32, 200)),
        (other, "coast", prose(33, 200)),
    ]:
        artifact = artifact_create(
            project=p,
            kind="report",
            logical_key=key,
            content=text.encode(),
            content_type="text/plain",
        )
        made.append(artifact)
    artifact_create(project=project, kind="bin", logical_key="blob", content=b"\x00\x01")
    # the on-commit task does not run inside the test transaction: index as the task would
    for a in made:
        services.artifact_ingest(
            artifact_id=a.pk, **{f: getattr(a, f) for f in indexing.ARTIFACT_FIELDS}
        )
    assert {r["id"] for r in indexing.artifact_versions(project.pk)} >= {a.pk for a in made[:3]}
    artifact_rows = Chunk.objects.filter(type="artifact")
    before = _chunk_set()
    assert artifact_rows.count() >= 4
    vectors_before = dict(Embedding.objects.values_list("chunk_id", "vector"))
    artifact_rows.delete()
    out = io.StringIO()
    call_command("reindex", stdout=out)
    assert "5 artifact versions reindexed" in out.getvalue()  # the binary one indexes nothing
    assert _chunk_set() == before
    after = dict(Embedding.objects.values_list("chunk_id", "vector"))
    assert after.keys() == vectors_before.keys()
    # a second reindex replaces in place: the same set, no duplicates
    call_command("reindex", "--project", str(project.pk), stdout=io.StringIO())
    assert _chunk_set() == before
    hits = services.search(project=project, query=prose(32, 200)[:60], namespace="artifacts")
    assert hits and all(h["type"] == "artifact" for h in hits)
