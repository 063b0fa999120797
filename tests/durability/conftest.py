"""Fixtures for the durability tests: private storage folders and a populated workspace."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages


@pytest.fixture(autouse=True)
def local_storages(settings, tmp_path):
    """Default and backup storage in this test's own folders (S3 tests override both)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    return tmp_path


def populate(world):
    """A workspace with history, a run, an artifact blob, a preview blob, an uploaded file."""
    from deployments import services as deploy
    from governance.services import audit_record
    from workspaces import services as ws_services

    ws = world.workspace
    project = ws_services.project_create(
        workspace=ws, name="Alpha", slug="alpha", actor=world.owner, description="first"
    )
    ws_services.project_update(project=project, actor=world.member, name="Alpha two")
    second = ws_services.project_create(workspace=ws, name="Beta", slug="beta", actor=world.member)
    run, _ = deploy.run_create(
        project=project,
        kind="build",
        actor=world.member,
        metadata={"nested": {"a": [1, 2.5, "x\\y\n"]}},
    )
    artifact = deploy.artifact_create(
        project=project,
        kind="bundle",
        logical_key="app.tar",
        content=b"\x00\x01binary" * 50,
        actor=world.member,
        run=run,
    )
    preview = deploy.preview_create(project=project, slug=f"pv-{ws.slug}", actor=world.member)
    deploy.preview_version_create(preview=preview, content={"hello": "wörld"}, actor=world.member)
    storages["default"].save(f"workspaces/{ws.pk}/uploads/notes.txt", ContentFile(b"hello"))
    audit_record(action="approval", summary="an audit row", actor=world.owner, workspace=ws)
    world.context.update(
        project=project, second=second, run=run, artifact=artifact, preview=preview
    )
    return world
