"""The schema-version document: stamping, views rebuild dispatch, migrate_safely."""

import pytest
from django.core.management import call_command

from durability import versions
from durability.models import BackupRecord, SchemaVersion
from tests.durability import fake_materialized
from tests.durability.factories import SchemaVersionFactory
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db
FAKE = ["tests.durability.fake_materialized"]


def test_document_shape_and_stamp():
    assert versions.schema_document()["app"]["version"] == 0
    row = versions.schema_stamp(migrated=True, views=True)
    doc = row.as_document()
    assert doc["meta_version"] == versions.META_VERSION
    assert doc["app"]["version"] == versions.APP_VERSION
    assert doc["app"]["last_migrated_by"].startswith("holdfast:")
    assert set(doc["views"]) == {"version", "last_migrated_by", "last_written_by"}


def test_views_mismatch_rebuilds_every_materialized_module():
    fake_materialized.calls.clear()
    SchemaVersionFactory(app_version=versions.APP_VERSION, views_version=1)
    assert versions.code_views_version(FAKE) == versions.BASE_VIEWS_VERSION + 7
    assert versions.views_sync(modules=FAKE) == {"tests.durability.fake_materialized": 3}
    assert fake_materialized.calls == [None]
    assert SchemaVersion.objects.get().views_version == versions.BASE_VIEWS_VERSION + 7
    assert versions.views_sync(modules=FAKE) is None  # versions match now: no rebuild
    assert fake_materialized.calls == [None]


def test_migrate_safely_backs_up_every_workspace_and_stamps(world, settings, capsys):
    settings.DJANGO_ENV = "production"
    call_command("migrate_safely", "--backup", verbosity=0)
    out = capsys.readouterr().out
    views = versions.code_views_version()
    assert f"Schema is at app version {versions.APP_VERSION}, views {views}." in out
    assert BackupRecord.objects.filter(trigger="migration").count() == Workspace.objects.count()
    assert SchemaVersion.objects.get().app_version == versions.APP_VERSION
    assert SchemaVersion.objects.get().views_version == views
    assert versions.refusal_reason() is None


def test_tasks_refuse_to_run_on_a_newer_schema(tmp_path):
    from common.exceptions import Conflict
    from common.tasks import ping

    marker = tmp_path / "pong.txt"
    row = SchemaVersionFactory(app_version=versions.APP_VERSION + 1)
    with pytest.raises(Conflict, match="newer code is deployed"):
        ping.apply(args=[str(marker)], throw=True)
    assert not marker.exists()
    row.app_version = versions.APP_VERSION
    row.save(update_fields=["app_version"])
    assert ping.apply(args=[str(marker)], throw=True).get() == "pong"
    assert marker.exists()
