"""Ingestion: extraction with pages, overlap chunking, idempotency, atomic replace, failures."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.exceptions import ValidationFailed
from vectors import services
from vectors.embeddings import Embedder, set_embedder
from vectors.extract import Page, chunk_pages
from vectors.models import Chunk, Embedding
from workspaces.models import FileStatus

from .helpers import ingest, make_pdf, prose, upload

pytestmark = pytest.mark.django_db


def _writes(queries):
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]


def test_text_file_is_chunked_with_overlap_and_embedded(project, embedder):
    text = prose(1, 800)
    file = ingest(project, text.encode())
    assert file.status == FileStatus.EXTRACTED
    assert file.extraction_version == 1
    chunks = list(Chunk.objects.filter(file=file).order_by("ordinal"))
    assert len(chunks) >= 3
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start < a.char_end  # consecutive chunks overlap
        assert a.text[-40:].split()[-1] in b.text
    assert chunks[0].metadata == {
        "projectId": str(project.pk),
        "type": "chunk",
        "fileId": str(file.pk),
        "chunkId": str(chunks[0].pk),
        "pageStart": 1,
        "pageEnd": 1,
    }
    assert chunks[0].namespace == f"project:{project.pk}:chunks"
    emb = Embedding.objects.get(chunk=chunks[0])
    assert (emb.model, emb.dimension, len(bytes(emb.vector))) == (embedder.name, 256, 1024)
    assert embedder.calls == 1


def test_pdf_pages_are_kept(project, embedder):
    pages = [f"page {i} " + prose(i, 150) for i in range(1, 6)]
    file = ingest(project, make_pdf(pages), name="book.pdf", content_type="application/pdf")
    assert file.status == FileStatus.EXTRACTED, file.failure_reason
    assert file.page_count == 5
    chunks = list(Chunk.objects.filter(file=file).order_by("ordinal"))
    assert chunks[0].page_start == 1
    assert chunks[-1].page_end == 5
    assert any(c.page_end > c.page_start for c in chunks)  # a chunk spans a page break
    for c in chunks:
        assert c.metadata["pageStart"] == c.page_start and c.metadata["pageEnd"] == c.page_end
    assert sorted({p for c in chunks for p in (c.page_start, c.page_end)}) == [1, 2, 3, 4, 5]


def test_html_text_without_scripts(project, embedder):
    html = b"<html><head><style>.x{}</style><script>alert('no')</script></head>"
    html += b"<body><h1>Glacier notes</h1><p>The fjord &amp; the reef.</p></body></html>"
    file = ingest(project, html, name="page.html", content_type="text/html")
    (chunk,) = Chunk.objects.filter(file=file)
    assert "Glacier notes" in chunk.text and "The fjord & the reef." in chunk.text
    assert "alert" not in chunk.text and ".x{}" not in chunk.text


def test_markdown_is_text(project, embedder):
    file = ingest(project, b"# Title\n\nSome *markdown* body.", name="README.md")
    assert file.status == FileStatus.EXTRACTED
    assert Chunk.objects.get(file=file).text.startswith("# Title")


def test_rerun_of_unchanged_file_makes_no_calls_and_writes_nothing(project, embedder):
    file = ingest(project, prose(2, 600).encode())
    calls = embedder.calls
    with CaptureQueriesContext(connection) as queries:
        services.file_ingest(file_id=file.pk)
    assert embedder.calls == calls
    assert _writes(queries) == []


def test_bumping_extraction_version_replaces_chunks(project, embedder, settings):
    file = ingest(project, prose(3, 600).encode())
    old = set(Chunk.objects.filter(file=file).values_list("id", flat=True))
    settings.EXTRACTION_VERSION = 2
    file = services.file_ingest(file_id=file.pk)
    new = list(Chunk.objects.filter(file=file))
    assert file.extraction_version == 2
    assert {c.extraction_version for c in new} == {2}
    assert old.isdisjoint({c.pk for c in new})
    assert Embedding.objects.filter(chunk__file=file).count() == len(new)
    assert not Chunk.objects.filter(pk__in=old).exists()


class _OtherDimension(Embedder):
    name = "other/8"
    dimension = 8

    def _embed(self, texts):
        import numpy as np

        return np.ones((len(texts), 8), dtype=np.float32)


def test_mixing_dimensions_is_refused_and_leaves_old_chunks(project, embedder, settings):
    file = ingest(project, prose(4, 600).encode())
    before = sorted(Chunk.objects.filter(file=file).values_list("id", "text"))
    settings.EXTRACTION_VERSION = 2
    set_embedder(_OtherDimension())
    try:
        with pytest.raises(ValidationFailed, match="256-dimension"):
            services.file_ingest(file_id=file.pk)
    finally:
        set_embedder(embedder)
    assert sorted(Chunk.objects.filter(file=file).values_list("id", "text")) == before
    file.refresh_from_db()
    assert (file.status, file.extraction_version) == (FileStatus.EXTRACTED, 1)


@pytest.mark.parametrize(
    ("data", "name", "ctype", "reason"),
    [
        (b"%PDF-1.4\n1 0 obj garbage", "broken.pdf", "application/pdf", "PDF cannot be read"),
        (b"\x89PNG\r\n\x1a\n....", "image.png", "image/png", "cannot be indexed"),
        (b"\xff\xfe\xfa not utf8", "bad.txt", "text/plain", "not valid UTF-8"),
    ],
)
def test_unreadable_file_fails_with_a_reason_and_no_chunks(
    project, embedder, data, name, ctype, reason
):
    file = ingest(project, data, name=name, content_type=ctype)
    assert file.status == FileStatus.FAILED
    assert reason in file.failure_reason
    assert file.failure_reason.endswith(".")
    assert not Chunk.objects.filter(file=file).exists()
    assert embedder.calls == 0
    # a failed file at this version is not retried on every run
    with CaptureQueriesContext(connection) as queries:
        services.file_ingest(file_id=file.pk)
    assert _writes(queries) == []


def test_chunk_pages_respects_size_and_overlap():
    pages = [Page(1, "a " * 500), Page(2, "b " * 500)]
    chunks = chunk_pages(pages, size=300, overlap=50)
    assert all(len(c.text) <= 300 for c in chunks)
    assert chunks[0].page_start == 1 and chunks[-1].page_end == 2
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert 0 < a.char_end - b.char_start <= 60


def test_same_bytes_twice_is_the_same_file(project):
    a = upload(project, b"hello knowledge")
    b = upload(project, b"hello knowledge", name="other-name.txt")
    assert a.pk == b.pk
