"""Artifacts: gapless versions per (project, kind, logical_key), write-once rows and blobs,
the streamed export with its manifest."""

import hashlib
import io
import json
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction

from deployments import selectors, services
from deployments.export import zip_member_name
from deployments.models import Artifact
from tests.factories import ProjectFactory
from tests.tenancy import api_client


def _make(project, key="spec.md", content=b"x", kind="spec", **kwargs):
    return services.artifact_create(
        project=project, kind=kind, logical_key=key, content=content, **kwargs
    )


def test_versions_increase_by_one_per_logical_key(project, world):
    a1 = _make(project, content=b"one", actor=world.member)
    a2 = _make(project, content=b"two")
    b1 = _make(project, key="other.md", content=b"b")
    c1 = _make(project, kind="patchset", content=b"p")
    assert (a1.version, a2.version, b1.version, c1.version) == (1, 2, 1, 1)
    assert a2.sha256 == hashlib.sha256(b"two").hexdigest() and a2.size == 3
    assert selectors.read_blob(a1.blob_path, sha256=a1.sha256) == b"one"
    assert a1.blob_path.startswith(f"workspaces/{project.workspace_id}/projects/{project.pk}/")


def test_artifact_rows_refuse_update_and_delete_at_the_database(project):
    artifact = _make(project)
    for sql in (
        "UPDATE deployments_artifact SET sha256 = 'x' WHERE id = %s",
        "DELETE FROM deployments_artifact WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [artifact.pk.hex if connection.vendor == "sqlite" else artifact.pk])
    artifact.refresh_from_db()
    assert artifact.sha256 == hashlib.sha256(b"x").hexdigest()


def test_a_blob_is_never_overwritten(project):
    artifact = _make(project, content=b"original")
    with pytest.raises(services.Conflict):
        services._write_once(artifact.blob_path, b"tampered")
    assert default_storage.open(artifact.blob_path).read() == b"original"


def test_a_failed_insert_leaves_no_blob_behind(project, monkeypatch):
    def boom(*args, **kwargs):
        raise DatabaseError("insert failed")

    monkeypatch.setattr(Artifact, "save", boom)
    with pytest.raises(DatabaseError):
        _make(project, content=b"orphan?")
    prefix = f"workspaces/{project.workspace_id}/projects/{project.pk}/artifacts"
    assert not default_storage.exists(prefix) or default_storage.listdir(prefix)[1] == []


def test_artifact_metadata_is_redacted(project):
    artifact = _make(project, metadata={"token": "abc", "model": "m1"})
    assert artifact.metadata == {"token": "[redacted]", "model": "m1"}


def test_bad_kind_or_key_is_refused(project):
    with pytest.raises(services.ValidationFailed):
        _make(project, kind="Bad Kind")
    with pytest.raises(services.ValidationFailed):
        _make(project, key="")


@pytest.mark.django_db(transaction=True)
def test_versions_are_gapless_under_concurrent_writers(postgres_only, settings, tmp_path):
    project = ProjectFactory()
    writers, per_writer = 8, 5
    barrier = threading.Barrier(writers)

    def work(i):
        try:
            barrier.wait()
            return [
                _make(project, key="shared", content=f"{i}-{j}".encode()).version
                for j in range(per_writer)
            ]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=writers) as pool:
        versions = sorted(v for batch in pool.map(work, range(writers)) for v in batch)
    assert versions == list(range(1, writers * per_writer + 1))
    stored = sorted(
        Artifact.objects.filter(project=project, logical_key="shared").values_list(
            "version", flat=True
        )
    )
    assert stored == versions


def test_zip_member_names_are_safe():
    assert zip_member_name("spec", "../../etc/passwd") == "spec/etc/passwd"
    assert zip_member_name("spec", "/abs/x.md") == "spec/abs/x.md"
    assert zip_member_name("spec", "..") == "spec/_"


def test_export_zip_streams_the_latest_versions_with_a_manifest(project, world):
    _make(project, key="docs/spec.md", content=b"v1")
    latest = _make(project, key="docs/spec.md", content=b"v2")
    other = _make(project, kind="verification", key="report.json", content=b'{"ok": true}')
    _make(ProjectFactory(workspace=world.workspace), key="docs/spec.md", content=b"elsewhere")
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/artifacts/export.zip"
    response = api_client(world.viewer).get(url)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == [
        "manifest.json",
        "spec/docs/spec.md",
        "verification/report.json",
    ]
    assert archive.read("spec/docs/spec.md") == b"v2"
    manifest = json.loads(archive.read("manifest.json"))
    by_path = {e["path"]: e for e in manifest["artifacts"]}
    assert by_path["spec/docs/spec.md"]["version"] == latest.version == 2
    assert by_path["spec/docs/spec.md"]["sha256"] == latest.sha256
    assert by_path["verification/report.json"]["sha256"] == other.sha256
    assert all(e["verified"] for e in manifest["artifacts"])
    assert manifest["project"]["id"] == str(project.pk)


def test_export_zip_is_tenant_scoped(project, world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/artifacts/export.zip"
    assert api_client(world.outsider).get(url).status_code == 404
    assert api_client().get(url).status_code == 401
