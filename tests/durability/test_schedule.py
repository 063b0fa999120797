"""Schedule and retention: the beat jobs, the exact retention set, the backups API."""

import datetime

import pytest

from accounts.models import Role
from durability import archive, services
from durability.models import BackupRecord, BackupStatus
from governance.models import AuditEvent
from tests.durability.factories import BackupRecordFactory
from tests.tenancy import TenancyContract, api_client

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def _at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def test_retention_keeps_exactly_what_the_policy_says():
    now = _at(2026, 3, 31, 12, 30)
    # one backup every 30 minutes for 70 days
    taken = [now - datetime.timedelta(minutes=30 * i) for i in range(70 * 48)]
    keep = services.retention_keep(taken, hourly=3, daily=2, weekly=2)
    assert sorted(keep, reverse=True) == [
        _at(2026, 3, 31, 12, 30),  # newest: hourly 1, daily 1
        _at(2026, 3, 31, 11, 30),  # hourly 2
        _at(2026, 3, 31, 10, 30),  # hourly 3
        _at(2026, 3, 30, 23, 30),  # daily 2 (newest of Mar 30)
        _at(2026, 3, 29, 23, 30),  # weekly 2: newest of ISO week 13 (Sun Mar 29); week 14
        #                           is the current one, already kept by the newest backup
    ]


def test_default_policy_counts():
    now = _at(2026, 3, 31, 12, 0)
    taken = [now - datetime.timedelta(hours=i) for i in range(24 * 80)]
    keep = services.retention_keep(taken, hourly=24, daily=14, weekly=8)
    hourly = {t for t in taken if now - t < datetime.timedelta(hours=24)}
    assert hourly <= keep
    days = {t.date() for t in keep}
    assert len(days) >= 14
    # 24 hourly (back to Mar 30 13:00, which includes Mar 30's newest); daily adds the newest
    # of Mar 29 ... Mar 18 (12); weekly (Mar 31 is in ISO week 14) adds the newest of weeks
    # 11 ... 7 (Mar 15, 8, 1, Feb 22, 15): weeks 14-12 are already kept.
    assert len(keep) == 24 + 12 + 5
    assert min(keep) == _at(2026, 2, 15, 23, 0)


def test_prune_removes_the_rest_from_storage_and_catalogue(world, settings):
    settings.BACKUP_RETAIN_HOURLY, settings.BACKUP_RETAIN_DAILY = 2, 1
    settings.BACKUP_RETAIN_WEEKLY = 1
    ws = world.workspace
    now = _at(2026, 3, 31, 12, 0)
    records = [
        services.backup_create(workspace=ws, at=now - datetime.timedelta(hours=h))
        for h in (0, 1, 2, 30)
    ]
    result = services.backups_prune(workspace_id=ws.pk, now=now)
    kept = {r.backup_id for r in records[:2]}
    assert set(result["pruned"]) == {r.backup_id for r in records[2:]}
    for record in records:
        record.refresh_from_db()
        if record.backup_id in kept:
            assert record.status == BackupStatus.SUCCEEDED
            assert archive.has_manifest(record.backup_id)
        else:
            assert record.status == BackupStatus.PRUNED
            assert archive.backup_ids().count(record.backup_id) == 0 or not list(
                archive.walk(archive.backup_storage(), record.backup_id)
            )


def test_scheduled_run_backs_up_every_workspace_with_an_audit_event(world):
    from config.celery import collect_beat_schedule
    from durability.tasks import scheduled_backups
    from workspaces.models import Workspace

    schedule = collect_beat_schedule()
    assert schedule["durability-scheduled-backups"]["schedule"] == 3600.0
    assert "durability-verify-newest" in schedule
    result = scheduled_backups()
    assert set(result) == {*Workspace.objects.values_list("slug", flat=True), "(instance)"}
    assert result["(instance)"]["backup_id"].startswith("instance-")
    for workspace in Workspace.objects.all():
        assert AuditEvent.objects.filter(action="backup", workspace=workspace).count() == 1
        assert BackupRecord.objects.get(workspace_id_scope=workspace.pk).trigger == "schedule"


def test_verify_drill_checks_the_newest_backup_of_each_workspace(world):
    from durability.tasks import verify_newest

    old = services.backup_create(workspace=world.workspace, at=_at(2026, 1, 1))
    new = services.backup_create(workspace=world.workspace)
    result = verify_newest()
    assert result == {world.workspace.slug: True}
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.verify_status == "passed" and old.verify_status == "never"


class TestBackupsEndpoint(TenancyContract):
    routes = ("durability-api:backups",)
    # workspace and role (2), the last successful backup (1), the listed backups (1)
    list_queries = 4

    def list_url(self, world):
        return f"/api/v1/workspaces/{world.workspace.slug}/backups/"

    def make_rows(self, world, n):
        BackupRecordFactory.create_batch(n, workspace=world.workspace)

    def test_lists_backups_with_age_and_staleness(self, world, settings):
        response = api_client(world.viewer).get(self.list_url(world))
        assert response.json()["stale"] is True
        assert response.json()["last_successful"] is None
        settings.BACKUP_INTERVAL_SECONDS = 600
        services.backup_create(
            workspace=world.workspace,
            at=datetime.datetime.now(tz=UTC) - datetime.timedelta(seconds=1300),
        )
        body = api_client(world.viewer).get(self.list_url(world)).json()
        assert body["stale"] is True and body["last_successful_age_seconds"] >= 1300
        record = services.backup_create(workspace=world.workspace)
        body = api_client(world.viewer).get(self.list_url(world)).json()
        assert body["stale"] is False
        assert body["last_successful"]["backup_id"] == record.backup_id
        assert [r["backup_id"] for r in body["results"]][0] == record.backup_id
        assert body["interval_seconds"] == 600


def test_roles_constant_is_used():
    assert Role.ADMIN
