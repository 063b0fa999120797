import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from common.exceptions import Conflict, ValidationFailed
from governance import registry
from governance.durability import services
from governance.durability.models import BackupRecord, SchemaVersion
from governance.durability.selectors import last_successful_backup
from governance.models import AuditEvent
from tests.factories import ProjectFactory, WorkspaceFactory
from workspaces.models import Project, Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_ROOT = tmp_path / "backups"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path


def _world():
    ws = WorkspaceFactory()
    project = ProjectFactory(workspace=ws, name="Original")
    project.name = "Renamed"
    project.save()  # a second history row
    default_storage.save(f"workspaces/{ws.pk}/doc.txt", ContentFile(b"hello"))
    return ws, project


def test_backup_covers_every_registered_model_and_writes_manifest_last():
    _world()
    record = services.create_backup()
    manifest = json.loads((Path(record.location) / "manifest.json").read_text())
    expected = {e.key for e in registry.backup_models(include_global=True)}
    assert {p["model"] for p in manifest["parts"]} == expected
    assert manifest["app_version"] == services.APP_VERSION
    assert any(f["path"].endswith("doc.txt") for f in manifest["files"])
    assert record.status == BackupRecord.Status.SUCCEEDED
    assert last_successful_backup() == record
    assert services.verify_backup(record.location) == []


def test_workspace_round_trip_restores_rows_history_and_files():
    ws, project = _world()
    other = WorkspaceFactory()
    ProjectFactory(workspace=other)
    record = services.create_backup(workspace=ws)
    history_before = project.history.count()
    counts_before = {
        e.key: registry.workspace_queryset(e, ws).count() for e in registry.backup_models()
    }
    Project.objects.filter(pk=project.pk).update(name="Damaged")
    ProjectFactory(workspace=ws, name="Added later")
    default_storage.delete(f"workspaces/{ws.pk}/doc.txt")

    services.restore_backup(record.location)

    project.refresh_from_db()
    assert project.name == "Renamed"
    assert not Project.objects.filter(workspace=ws, name="Added later").exists()
    assert project.history.count() == history_before
    for entry in registry.backup_models():
        if services._kept(entry):
            continue
        assert registry.workspace_queryset(entry, ws).count() == counts_before[entry.key], entry.key
    assert Project.objects.filter(workspace=other).count() == 1  # untouched
    with default_storage.open(f"workspaces/{ws.pk}/doc.txt") as fh:
        assert fh.read() == b"hello"
    assert AuditEvent.objects.filter(action="restore").exists()
    assert last_successful_backup(ws) == record


def test_corrupt_part_refuses_restore_and_changes_nothing():
    ws, project = _world()
    record = services.create_backup(workspace=ws)
    part = Path(record.location) / "workspaces.Project.jsonl.zst"
    part.write_bytes(part.read_bytes()[:-3] + b"xyz")
    Project.objects.filter(pk=project.pk).update(name="Changed")
    assert services.verify_backup(record.location)
    with pytest.raises(ValidationFailed):
        services.restore_backup(record.location)
    assert Project.objects.get(pk=project.pk).name == "Changed"


def test_unfinished_backup_without_manifest_is_refused(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(ValidationFailed):
        services.read_manifest(tmp_path / "half")
    with pytest.raises(CommandError, match="no manifest"):
        call_command("restore", str(tmp_path / "half"))


def test_newer_database_version_refuses_writes():
    SchemaVersion.objects.create(app_version=services.APP_VERSION + 1)
    with pytest.raises(Conflict):
        services.check_schema_version()


def test_commands_backup_verify_list(capsys):
    ws, _ = _world()
    call_command("backup", "--workspace", ws.slug)
    out = capsys.readouterr().out
    assert "Backup written" in out
    location = BackupRecord.objects.get().location
    call_command("verify_backup", location)
    call_command("list_backups")
    assert location in capsys.readouterr().out
    with pytest.raises(CommandError, match="No workspace"):
        call_command("backup", "--workspace", "nope")
    assert Workspace.objects.filter(pk=ws.pk).exists()


def test_write_requests_are_refused_when_database_is_newer(client):
    SchemaVersion.objects.create(app_version=services.APP_VERSION + 1)
    response = client.post("/api/v1/auth/me/", {})
    assert response.status_code == 409
    assert response.json()["code"] == "schema_version"
    assert client.get("/api/v1/").status_code != 409


def test_nightly_task_is_scheduled_and_writes_a_verified_backup():
    from config.celery import collect_beat_schedule
    from governance.durability.tasks import nightly_backup

    assert "durability-nightly-backup" in collect_beat_schedule()
    location = nightly_backup()
    assert BackupRecord.objects.get(location=location).verified_at is not None


def test_backup_list_api_is_staff_only(client_for, world):
    from tests.factories import UserFactory

    record = services.create_backup(workspace=world.workspace)
    assert client_for(world.owner).get("/api/v1/backups/").status_code == 403
    staff = UserFactory(is_staff=True)
    response = client_for(staff).get("/api/v1/backups/")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert rows[0]["id"] == str(record.pk)


def test_migrate_safely_backs_up_and_records_version(capsys):
    SchemaVersion.objects.create(app_version=0, views_version=0)
    call_command("migrate_safely", verbosity=0)
    doc = SchemaVersion.objects.get()
    assert (doc.app_version, doc.views_version) == (services.APP_VERSION, services.VIEWS_VERSION)
    assert BackupRecord.objects.filter(status="succeeded").count() == 1


def test_migrate_safely_refuses_when_database_is_newer():
    SchemaVersion.objects.create(app_version=services.APP_VERSION + 1)
    with pytest.raises(CommandError, match="upgrade the code"):
        call_command("migrate_safely", verbosity=0)


def test_production_refuses_schema_version_zero(settings):
    from governance.durability.checks import production_schema_version

    settings.DJANGO_ENV = "production"
    SchemaVersion.objects.create(app_version=0)
    errors = production_schema_version(None, databases=["default"])
    assert [e.id for e in errors] == ["durability.E001"]
    SchemaVersion.objects.update(app_version=services.APP_VERSION)
    assert production_schema_version(None, databases=["default"]) == []
