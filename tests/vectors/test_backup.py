"""Files, skills and citations are in the workspace backup: a backup → purge → restore round
trip brings back the rows and the file's bytes, and reindex rebuilds the same chunks."""

import pytest
from django.core.files.storage import storages

from durability import services as durability
from governance.purge import workspace_purge
from tests.factories import ProjectFactory
from vectors import services
from vectors.models import Chunk, Citation
from workspaces import knowledge
from workspaces.models import ProjectFile, ProjectSkill

from .helpers import ingest, make_pdf, prose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _backup_storage(settings, tmp_path, _isolated_storage):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }


def _chunk_set(project):
    return sorted(
        Chunk.objects.filter(project=project).values_list(
            "id", "file_id", "ordinal", "text", "page_start", "page_end"
        )
    )


def test_backup_restore_round_trip_carries_files_skills_citations(world, embedder):
    project = ProjectFactory(workspace=world.workspace)
    pdf = make_pdf([prose(i, 120) for i in range(3)])
    file = ingest(project, pdf, name="atlas.pdf", content_type="application/pdf")
    skill = knowledge.project_skill_create(project=project, actor=world.owner, name="summarise")
    chunk = Chunk.objects.filter(file=file).first()
    citation = services.citation_create(
        project=project,
        source_kind="artifact",
        source_id="8f0e4a52-8a6b-4bb4-9d0e-7e3c6a1b2c3d",
        chunk_id=chunk.pk,
        quote=chunk.text[:30],
        actor=world.owner,
    )
    chunks_before = _chunk_set(project)
    record = durability.backup_create(workspace=world.workspace)

    workspace_purge(workspace=world.workspace, actor=world.owner, reason="drill")
    storages["default"].delete(file.blob_path)
    assert not ProjectFile.objects.exists() and not Chunk.objects.exists()

    durability.backup_restore(backup_id=record.backup_id)

    restored = ProjectFile.objects.get(pk=file.pk)
    assert (restored.sha256, restored.status, restored.blob_path) == (
        file.sha256,
        "extracted",
        file.blob_path,
    )
    with storages["default"].open(restored.blob_path, "rb") as fh:
        assert fh.read() == pdf
    assert ProjectSkill.objects.get(pk=skill.pk).name_norm == "summarise"
    assert Citation.objects.get(pk=citation.pk).chunk_id == chunk.pk
    # chunks are semi-critical: not in the backup, rebuilt from the files
    assert not Chunk.objects.exists()
    services.project_reindex(project=restored.project)
    assert _chunk_set(project) == chunks_before
