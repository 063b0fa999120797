"""Backups of one workspace: contents, round trips, damage, interruption, schema guards."""

import json
import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from common.exceptions import Conflict, NotFound, ServiceError, ValidationFailed
from durability import archive, services, versions
from durability.models import BackupRecord, BackupStatus
from durability.selectors import last_successful_backup, stored_backups
from governance import registry
from governance.models import AuditEvent
from tests.durability.api_dump import dump, list_routes
from tests.durability.conftest import populate
from tests.durability.factories import SchemaVersionFactory
from workspaces.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(world):
    return populate(world)


def _manifest(backup_id):
    return archive.read_manifest(backup_id)


def _files(backup_id):
    return list(archive.walk(archive.backup_storage(), backup_id))


def test_backup_holds_every_backup_model_its_globals_and_blobs(filled):
    ws = filled.workspace
    record = services.backup_create(workspace=ws, actor=filled.owner)
    assert record.status == BackupStatus.SUCCEEDED
    assert record.backup_id.startswith(f"{ws.slug}-")
    manifest = _manifest(record.backup_id)
    models = [p["model"] for p in manifest["parts"]]
    tenant_keys = [e.key for e in registry.backup_models()]
    assert set(tenant_keys) <= set(models)
    # parents before children, exactly the registry's dependency order
    order = [e.key for e in registry.backup_models(include_global=True)]
    assert models == [k for k in order if k in models]
    by_model = {p["model"]: p for p in manifest["parts"]}
    assert by_model["accounts.Team"]["rows"] == 1
    assert by_model["accounts.Membership"]["rows"] == 4
    assert by_model["accounts.User"]["rows"] == 4  # the members; the outsider is not included
    assert by_model["workspaces.Project"]["rows"] == 2
    assert by_model["workspaces.HistoricalProject"]["rows"] == 3
    assert by_model["workspaces.Workspace"]["rows"] == 1
    paths = {f["path"] for f in manifest["files"]}
    assert filled.context["artifact"].blob_path in paths
    assert f"workspaces/{ws.pk}/uploads/notes.txt" in paths
    assert any("/previews/" in p for p in paths)
    assert manifest["workspace"] == {
        "id": str(ws.pk),
        "slug": ws.slug,
        "name": ws.name,
        "team_id": str(ws.team_id),
    }
    assert set(manifest["schema"]) == {"meta_version", "app", "views"}
    assert manifest["format"] == archive.FORMAT
    assert all(len(p["sha256"]) == 64 and p["bytes"] > 0 for p in manifest["parts"])
    assert last_successful_backup(ws) == record
    assert AuditEvent.objects.filter(action="backup", workspace=ws).count() == 1
    other = Project.objects.exclude(workspace=ws).count()
    assert other == 0 or by_model["workspaces.Project"]["rows"] == 2


def _mutate(world):
    from workspaces import services as ws_services

    project = world.context["project"]
    ws_services.project_update(project=project, actor=world.owner, name="Damaged")
    ws_services.project_create(
        workspace=world.workspace, name="Later", slug="later", actor=world.owner
    )
    storages["default"].delete(world.context["artifact"].blob_path)


def test_round_trip_in_place_is_identical_through_the_api(filled):
    ws = filled.workspace
    assert any("projects/" in r for r in list_routes())
    before = dump(ws, filled.owner)
    history_before = Project.history.filter(workspace=ws).count()
    other_before = dump(filled.outsider.memberships.get().team.workspaces.get(), filled.outsider)
    record = services.backup_create(workspace=ws)
    _mutate(filled)
    assert dump(ws, filled.owner) != before

    result = services.backup_restore(backup_id=record.backup_id, actor=filled.owner)

    assert result["mode"] == "replace"
    assert dump(ws, filled.owner) == before
    assert Project.history.filter(workspace=ws).count() == history_before
    with storages["default"].open(filled.context["artifact"].blob_path) as fh:
        assert fh.read() == b"\x00\x01binary" * 50
    assert (
        dump(filled.outsider.memberships.get().team.workspaces.get(), filled.outsider)
        == other_before
    )
    assert AuditEvent.objects.filter(action="restore", workspace=ws).exists()
    assert AuditEvent.objects.filter(action="backup", workspace=ws).exists()  # kept


def test_restore_creates_a_workspace_this_instance_does_not_have(filled):
    from accounts.models import Membership
    from governance.purge import workspace_purge

    ws = filled.workspace
    before = dump(ws, filled.owner)
    record = services.backup_create(workspace=ws)
    team = ws.team
    workspace_purge(workspace=ws, actor=filled.owner, reason="drill")
    Membership.objects.filter(team=team).delete()
    team.delete()
    BackupRecord.objects.all().delete()  # a fresh instance knows only the storage
    for f in _files(record.backup_id):
        if f.startswith(f"{record.backup_id}/files/"):
            storages["default"].delete(f.split("/files/", 1)[1])

    result = services.backup_restore(backup_id=record.backup_id)

    assert result["mode"] == "create"
    assert dump(ws, filled.owner) == before
    assert BackupRecord.objects.get().backup_id == record.backup_id


def _flip(backup_id, name):
    storage = archive.backup_storage()
    path = storage.path(name)
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    data[len(data) // 2] ^= 0x01
    with open(path, "wb") as fh:
        fh.write(data)
    return bytes(data)


def test_a_flipped_byte_anywhere_refuses_restore_and_changes_nothing(filled):
    ws = filled.workspace
    record = services.backup_create(workspace=ws)
    _mutate(filled)
    state = dump(ws, filled.owner)
    names = _files(record.backup_id)
    assert any(n.endswith("manifest.json") for n in names) and len(names) > 10
    for name in names:
        storage = archive.backup_storage()
        with storage.open(name, "rb") as fh:
            original = fh.read()
        _flip(record.backup_id, name)
        with pytest.raises((ValidationFailed, NotFound)):
            services.backup_restore(backup_id=record.backup_id)
        assert dump(ws, filled.owner) == state, name
        with open(storage.path(name), "wb") as fh:
            fh.write(original)
    services.backup_restore(backup_id=record.backup_id)  # intact again: restores
    assert Project.objects.get(pk=filled.context["project"].pk).name == "Alpha two"


def test_an_interrupted_backup_is_never_listed_complete(filled, capsys):
    ws = filled.workspace
    seen = []

    def dies_midway(event):
        seen.append(event)
        if len(seen) == 5:
            raise KeyboardInterrupt  # what a killed worker looks like from inside

    with pytest.raises(KeyboardInterrupt):
        services.backup_create(workspace=ws, progress=dies_midway)
    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.FAILED
    assert _files(record.backup_id)  # parts were written ...
    assert not archive.has_manifest(record.backup_id)  # ... but no manifest
    assert [b.backup_id for b in stored_backups()] == []
    call_command("list_backups")
    assert record.backup_id not in capsys.readouterr().out
    call_command("list_backups", "--incomplete")
    assert f"{record.backup_id} INCOMPLETE" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no complete backup"):
        call_command("restore", record.backup_id, "--noinput")
    assert last_successful_backup(ws) is None


KILLER = """
import os, signal, django
from config.env import configure
configure(); django.setup()
from tests.factories import WorkspaceFactory
from durability import services
ws = WorkspaceFactory(slug="killed")
parts = []
def progress(event):
    parts.append(event)
    if len(parts) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
services.backup_create(workspace=ws, progress=progress)
"""


def test_a_killed_backup_process_leaves_nothing_complete(tmp_path):
    """SIGKILL a real backup process mid-way (own SQLite data folder), then list from outside."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")
    }
    env.update(HOLDFAST_DATA_DIR=str(tmp_path / "data"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], cwd=root, env=env, check=True)
    killed = subprocess.run([sys.executable, "-c", KILLER], cwd=root, env=env)
    assert killed.returncode == -9
    folders = list((tmp_path / "data" / "backups").iterdir())
    assert len(folders) == 1 and any((folders[0] / "parts").iterdir())
    listed = subprocess.run(
        [*manage, "list_backups"], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    assert folders[0].name not in listed.stdout
    restore = subprocess.run(
        [*manage, "restore", folders[0].name, "--noinput"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert restore.returncode != 0
    assert "Traceback" not in restore.stderr
    assert "no complete backup" in restore.stderr


def test_restore_refuses_a_backup_with_a_newer_schema(filled):
    record = services.backup_create(workspace=filled.workspace)
    manifest = _manifest(record.backup_id)
    manifest["schema"]["app"]["version"] = versions.APP_VERSION + 1
    storage = archive.backup_storage()
    with open(storage.path(f"{record.backup_id}/manifest.json"), "wb") as fh:
        fh.write(archive.seal(manifest))
    _mutate(filled)
    with pytest.raises(Conflict, match="newer code"):
        services.backup_restore(backup_id=record.backup_id)
    assert Project.objects.get(pk=filled.context["project"].pk).name == "Damaged"
    with pytest.raises(CommandError, match="newer code"):
        call_command("restore", record.backup_id, "--noinput")


def test_database_newer_than_code_refuses_writes_everywhere(filled, client_for):
    SchemaVersionFactory(app_version=versions.APP_VERSION + 1)
    client = client_for(filled.owner)
    url = f"/api/v1/workspaces/{filled.workspace.slug}/projects/"
    response = client.post(url, {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "schema_version"
    assert "newer code" in response.json()["detail"]
    assert client.get(url).status_code == 200  # reads still work
    with pytest.raises(Conflict):
        services.backup_restore(backup_id="whatever")
    with pytest.raises(CommandError, match="only knows"):
        call_command("migrate_safely", verbosity=0)


def test_production_refuses_version_zero(filled, settings, client_for):
    from durability.checks import production_schema_version

    record = services.backup_create(workspace=filled.workspace)  # written at version 0
    settings.DJANGO_ENV = "production"
    assert [e.id for e in production_schema_version(None, databases=["default"])] == [
        "durability.E001"
    ]
    response = client_for(filled.owner).get(f"/api/v1/workspaces/{filled.workspace.slug}/")
    assert response.status_code == 503
    assert "version is 0" in response.json()["detail"]
    versions.schema_stamp(migrated=True)
    assert production_schema_version(None, databases=["default"]) == []
    with pytest.raises(Conflict, match="version 0"):
        services.backup_restore(backup_id=record.backup_id)


def test_commands_print_ids_and_fail_in_one_sentence(filled, capsys):
    ws = filled.workspace
    call_command("backup", "--workspace", ws.slug)
    out = capsys.readouterr().out.strip().splitlines()
    backup_id = out[-1]
    assert backup_id == BackupRecord.objects.get().backup_id
    assert any("workspaces.Project" in line and "rows" in line for line in out)
    call_command("list_backups", "--workspace", ws.slug)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{backup_id} complete")
    call_command("verify_backup", backup_id, "--checksums-only")
    assert "intact" in capsys.readouterr().out
    call_command("restore", backup_id, "--noinput")
    assert "Restored" in capsys.readouterr().out
    call_command("backup", "--all")
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(ws.slug[:3])
    for args, message in [
        (["backup", "--workspace", "nope"], "no workspace"),
        (["restore", "nope-20260101T000000-abcdef", "--noinput"], "no complete backup"),
        (["verify_backup", "nope-20260101T000000-abcdef"], "failed verification"),
    ]:
        with pytest.raises(CommandError, match=message) as exc:
            call_command(*args)
        assert "\n" not in str(exc.value)


def test_verify_restores_into_a_scratch_database_and_records_the_result(filled):
    record = services.backup_create(workspace=filled.workspace)
    result = services.backup_verify(backup_id=record.backup_id)
    assert result["ok"], result["problems"]
    assert result["rows"] == record.row_count
    record.refresh_from_db()
    assert record.verify_status == "passed" and record.verified_at is not None
    assert AuditEvent.objects.filter(action="verify", workspace=filled.workspace).count() == 1
    name = next(n for n in _files(record.backup_id) if "/parts/" in n)
    _flip(record.backup_id, name)
    result = services.backup_verify(backup_id=record.backup_id, scratch=False)
    assert not result["ok"] and "checksum" in result["problems"][0]
    record.refresh_from_db()
    assert record.verify_status == "failed"


def test_s3_round_trip_against_a_real_s3_server(filled, s3_storage_settings):
    from tests.durability.conftest import populate as _  # noqa: F401

    ws = filled.workspace
    client, bucket = s3_storage_settings["client"], s3_storage_settings["bucket"]
    blob = f"workspaces/{ws.pk}/uploads/big.bin"
    content = os.urandom(1 << 16) * 144  # 9 MiB: above boto3's 8 MiB multipart threshold
    storages["default"].save(blob, ContentFile(content))
    record = services.backup_create(workspace=ws)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="backups/")["Contents"]}
    assert f"backups/{record.backup_id}/manifest.json" in keys
    copy_key = f"backups/{record.backup_id}/files/{blob}"
    assert copy_key in keys
    assert "-" in client.head_object(Bucket=bucket, Key=copy_key)["ETag"]  # multipart upload
    assert [b.backup_id for b in stored_backups(workspace_slug=ws.slug)] == [record.backup_id]
    storages["default"].delete(blob)
    Project.objects.filter(pk=filled.context["project"].pk).update(name="Changed")
    services.backup_restore(backup_id=record.backup_id)
    assert Project.objects.get(pk=filled.context["project"].pk).name == "Alpha"[:5] + " two"
    with storages["default"].open(blob) as fh:
        assert fh.read() == content
    assert services.backup_verify(backup_id=record.backup_id, scratch=False)["ok"]


def test_manifest_is_written_last(filled, monkeypatch):
    """The storage sees every part and file before the manifest."""
    written = []
    storage = archive.backup_storage()
    original = type(storage).save

    def recording_save(self, name, content, max_length=None):
        written.append(name)
        return original(self, name, content, max_length)

    monkeypatch.setattr(type(storage), "save", recording_save)
    record = services.backup_create(workspace=filled.workspace)
    assert written[-1] == f"{record.backup_id}/manifest.json"
    assert len(written) == len(_files(record.backup_id))


def test_json_survives_byte_for_byte(filled):
    record = services.backup_create(workspace=filled.workspace)
    run = filled.context["run"]
    from deployments.models import Run

    Run.objects.filter(pk=run.pk).update(metadata={})
    services.backup_restore(backup_id=record.backup_id)
    assert Run.objects.get(pk=run.pk).metadata == {"nested": {"a": [1, 2.5, "x\\y\n"]}}
    assert json.dumps(Run.objects.get(pk=run.pk).metadata)


def test_service_errors_are_service_errors():
    with pytest.raises(ServiceError):
        archive.read_manifest("../etc")


@pytest.mark.django_db(transaction=True)
def test_parallel_backup_reads_one_snapshot_on_postgresql(postgres_only, settings):
    """Outside a transaction PostgreSQL parts are read by worker threads in one snapshot."""
    from tests.tenancy import make_tenant_world

    settings.BACKUP_WORKERS = 3
    world = populate(make_tenant_world())
    ws = world.workspace
    before = dump(ws, world.owner)
    record = services.backup_create(workspace=ws)
    by_model = {p["model"]: p["rows"] for p in _manifest(record.backup_id)["parts"]}
    assert by_model["workspaces.Project"] == 2 and by_model["accounts.Membership"] == 4
    _mutate(world)
    services.backup_restore(backup_id=record.backup_id)
    assert dump(ws, world.owner) == before


def _as_format_1(backup_id: str) -> str:
    """A copy of the backup as archive format 1 wrote it: JSON-lines parts keyed by column."""
    import hashlib

    import zstandard
    from django.core.files.base import ContentFile

    from durability import rows

    storage = archive.backup_storage()
    manifest = archive.read_manifest(backup_id)
    old_id = f"{backup_id}-v1"
    for name in _files(backup_id):
        if name.endswith(archive.MANIFEST) or "/parts/" in name:
            continue
        with storage.open(name, "rb") as fh:
            storage.save(old_id + name[len(backup_id) :], ContentFile(fh.read()))
    models = {e.key: e.model for e in registry.backup_models(include_global=True)}
    for part in manifest["parts"]:
        fields = {f.column: f for f in models[part["model"]]._meta.concrete_fields}
        with storage.open(f"{backup_id}/{part['file']}", "rb") as fh:
            text = zstandard.ZstdDecompressor().stream_reader(fh).read()
        lines = []
        for line in text.splitlines():
            row = dict(zip(part["columns"], rows.parse_line(line), strict=True))
            for column, value in row.items():
                if value is not None and fields[column].get_internal_type() == "JSONField":
                    row[column] = json.loads(value)
            lines.append(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        content = "".join(lines).encode()
        packed = zstandard.ZstdCompressor().compress(content)
        storage.save(f"{old_id}/{part['file']}", ContentFile(packed))
        del part["encoding"]
        part["bytes"], part["sha256"] = len(packed), hashlib.sha256(packed).hexdigest()
        part["content_digest"] = hashlib.blake2b(content, digest_size=32).hexdigest()
    manifest.update(format=1, backup_id=old_id)
    archive.write_manifest(old_id, manifest)
    return old_id


def test_a_format_1_backup_with_json_lines_parts_still_restores(filled):
    ws = filled.workspace
    before = dump(ws, filled.owner)
    record = services.backup_create(workspace=ws)
    assert _manifest(record.backup_id)["format"] == 3
    old_id = _as_format_1(record.backup_id)
    assert _manifest(old_id)["format"] == 1
    _mutate(filled)
    assert dump(ws, filled.owner) != before

    services.backup_restore(backup_id=old_id, actor=filled.owner)

    assert dump(ws, filled.owner) == before
    assert services.backup_verify(backup_id=old_id)["ok"]
