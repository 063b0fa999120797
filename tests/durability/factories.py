"""factory_boy factories for the durability models: catalogue rows and the schema document.

A `BackupRecordFactory` row is a catalogue entry only (no archive in backup storage);
tests that need a real backup call `services.backup_create`.
"""

import datetime

import factory
from django.utils import timezone

from durability import versions
from durability.models import BackupRecord, BackupStatus, BackupTrigger, SchemaVersion
from tests.factories import WorkspaceFactory


class BackupRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupRecord

    class Params:
        workspace = factory.SubFactory(WorkspaceFactory)

    backup_id = factory.LazyAttributeSequence(
        lambda o, n: (
            f"{o.workspace.slug}-{o.taken_at.astimezone(datetime.UTC):%Y%m%dT%H%M%S}-{n:06x}"
        )
    )
    workspace_id_scope = factory.LazyAttribute(lambda o: o.workspace.pk)
    workspace_slug = factory.LazyAttribute(lambda o: o.workspace.slug)
    trigger = BackupTrigger.MANUAL
    status = BackupStatus.SUCCEEDED
    taken_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda o: o.taken_at)
    row_count = 12
    byte_count = 4096
    file_count = 1
    app_version = versions.APP_VERSION


class SchemaVersionFactory(factory.django.DjangoModelFactory):
    """The schema-version document row; by default at this code's versions."""

    class Meta:
        model = SchemaVersion

    app_version = versions.APP_VERSION
    views_version = factory.LazyFunction(versions.code_views_version)
