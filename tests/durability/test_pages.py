"""The backups page: list, back up now, the restore-point form."""

import pytest

from durability.models import BackupRecord, BackupStatus
from tests.pages import PageContract, signed_in
from tests.tenancy import make_tenant_world


class TestBackupsPage(PageContract):
    queries = 8
    write_marker = "Back up now"
    writer = "admin"

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/backups/"

    def write(self, world, filled):
        return self.url(world, filled) + "now/", {}


@pytest.fixture
def backup_world(db, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "backups")},
        },
    }
    return make_tenant_world()


def test_admin_backs_up_now(backup_world):
    world = backup_world
    response = signed_in(world.admin).post(f"/w/{world.workspace.slug}/backups/now/", follow=True)
    assert response.status_code == 200
    record = BackupRecord.objects.get(workspace_id_scope=world.workspace.pk)
    assert record.status == BackupStatus.SUCCEEDED
    assert record.backup_id in response.content.decode()


def test_restore_point_error_keeps_what_was_typed(backup_world):
    world = backup_world
    response = signed_in(world.admin).post(
        f"/w/{world.workspace.slug}/backups/restore-point/",
        {"at": "2999-01-01T00:00", "model": "collaboration.comment", "object_id": ""},
    )
    body = response.content.decode()
    assert "The point in time is in the future." in body
    assert 'value="collaboration.comment"' in body


def test_restore_point_runs_for_admins(backup_world):
    world = backup_world
    response = signed_in(world.admin).post(
        f"/w/{world.workspace.slug}/backups/restore-point/", {"at": "2020-01-01T00:00"}
    )
    assert "Restored" in response.content.decode()
