"""Plain `manage.py migrate` in production: refused unless every workspace is backed up."""

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from durability import services, versions
from durability.management.commands import migrate as guarded
from durability.management.commands import migrate_safely
from durability.models import BackupRecord
from tests.durability.factories import BackupRecordFactory, SchemaVersionFactory
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


class _Pending(MigrationExecutor):
    """The executor as it looks when a deploy brings one migration this database lacks."""

    def migration_plan(self, targets, clean_start=False):
        real = super().migration_plan(targets, clean_start)
        return real or [(self.loader.graph.nodes[("durability", "0004_backup_chains")], False)]


@pytest.fixture
def pending(monkeypatch, world, settings):
    settings.DJANGO_ENV = "production"
    SchemaVersionFactory()
    monkeypatch.setattr(guarded, "MigrationExecutor", _Pending)
    monkeypatch.setattr(migrate_safely, "MigrationExecutor", _Pending)
    return world


def test_production_migrate_refuses_without_fresh_backups_and_names_migrate_safely(pending):
    ws = pending.workspace
    old = timezone.now() - datetime.timedelta(days=400)  # before any migration was applied
    BackupRecordFactory(workspace=ws, taken_at=old)
    with pytest.raises(CommandError, match="migrate_safely") as refused:
        call_command("migrate", verbosity=0)
    assert ws.slug in str(refused.value)
    assert "no backup newer than the last migration" in str(refused.value)


def test_production_migrate_passes_once_every_workspace_is_backed_up(pending):
    for workspace in Workspace.objects.all():
        services.backup_create(workspace=workspace)
    assert guarded.unguarded_reason() is None
    call_command("migrate", verbosity=0)  # Django's real plan is empty: nothing happens


def test_migrate_safely_backs_up_first_so_its_migrate_passes(pending, capsys):
    assert guarded.unguarded_reason() is not None
    call_command("migrate_safely", verbosity=0)
    assert BackupRecord.objects.filter(trigger="migration").count() == Workspace.objects.count()
    assert guarded.unguarded_reason() is None
    assert "Schema is at app version" in capsys.readouterr().out


def test_outside_production_and_plan_only_migrate_is_unguarded(pending, settings):
    call_command("migrate", "--plan", verbosity=0)  # --plan applies nothing: allowed
    settings.DJANGO_ENV = "local"
    assert guarded.unguarded_reason() is None


def test_migrate_refuses_data_newer_than_the_code_everywhere(world, settings):
    SchemaVersionFactory(app_version=versions.APP_VERSION + 1)
    with pytest.raises(CommandError, match="newer code is deployed"):
        call_command("migrate", verbosity=0)


def test_version_zero_rule_of_seed_004_still_holds(world, settings):
    settings.DJANGO_ENV = "production"
    assert versions.refusal_reason()[0] == 503  # production never serves version 0 ...
    settings.DJANGO_ENV = "local"
    assert versions.refusal_reason() is None  # ... development runs at version 0
