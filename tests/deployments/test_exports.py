"""Export jobs: EPUB and PDF from the chapters and metadata.yml, progress and status, a
short-lived download link, and the 30-day expiry that leaves no file without a ready row."""

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from deployments import draftforge as df
from deployments.models import ExportJob
from deployments.services import exports, repo_sync
from tests.tenancy import api_client

from .gitrepo import SEED_CONFIG, SEED_METADATA

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(connected, git_repo):
    git_repo.commit({
        df.CONFIG: SEED_CONFIG, df.METADATA: SEED_METADATA,
        "chapters/01-the-beginning.md": "# The Beginning\n\nIt began *quietly*. Café.\n",
        "chapters/02-the-journey.md": "# The Journey\n\nThen it went on.\n",
    })  # fmt: skip
    repo_sync.repo_sync_run(repo_id=connected.pk)
    return connected


def _base(world, project):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/exports/"


def test_epub_export_downloads_through_a_short_lived_link(book, world, project, settings):
    response = api_client(world.member).post(_base(world, project), {"format": "epub"},
                                             format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "queued"
    exports.export_build(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "ready" and job.progress == 100 and job.size > 0
    assert job.expires_at > timezone.now() + timedelta(days=29)
    link = api_client(world.viewer).post(f"{_base(world, project)}{job.pk}/link/")
    assert link.status_code == 200 and link.json()["expires_in"] == 300
    download = api_client().get(link.json()["url"])
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as epub:
        names = epub.namelist()
        assert "mimetype" in names
        opf = next(epub.read(n) for n in names if n.endswith(".opf")).decode()
        assert "My Epic Novel" in opf and "Jane Author" in opf
        chapter = next(epub.read(n) for n in names if n.endswith("chapter-001.xhtml")).decode()
        assert "<em>quietly</em>" in chapter
    assert api_client().get("/api/v1/exports/download/forged:token/").status_code == 404


def test_pdf_export(book, project, world):
    job = exports.export_create(project=project, format="pdf", actor=world.member)
    exports.export_build(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "ready", job.error
    from django.core.files.storage import default_storage

    with default_storage.open(job.file_path, "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_an_expired_link_is_refused(book, project, world, monkeypatch):
    job = exports.export_create(project=project, format="epub", actor=world.member)
    exports.export_build(job_id=job.pk)
    job.refresh_from_db()
    token, _ = exports.export_link(job=job)
    monkeypatch.setattr(exports, "LINK_SECONDS", -1)
    with pytest.raises(exports.NotFound):
        exports.export_for_token(token=token)


def test_expiry_removes_the_files_and_leaves_no_orphans(book, project, world, _isolated_storage):
    jobs = []
    for fmt in ("epub", "pdf", "epub"):
        job = exports.export_create(project=project, format=fmt, actor=world.member)
        exports.export_build(job_id=job.pk)
        jobs.append(ExportJob.objects.get(pk=job.pk))
    ExportJob.objects.filter(pk__in=[jobs[0].pk, jobs[1].pk]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert exports.exports_expire() == 2
    stored = {
        str(p.relative_to(_isolated_storage))
        for p in Path(_isolated_storage).rglob("*") if p.is_file()
    }  # fmt: skip
    ready = set(ExportJob.objects.filter(status="ready").values_list("file_path", flat=True))
    assert stored == ready and len(ready) == 1
    expired = ExportJob.objects.filter(status="expired")
    assert expired.count() == 2 and set(expired.values_list("file_path", flat=True)) == {""}
    assert exports.exports_expire() == 0  # the beat job may run any number of times


def test_export_without_a_repository_is_400(world, project):
    response = api_client(world.member).post(_base(world, project), {"format": "epub"},
                                             format="json")  # fmt: skip
    assert response.status_code == 400
