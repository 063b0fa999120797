from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from common.exceptions import ServiceError
from durability import services, versions
from durability.models import BackupTrigger
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace


class Command(BaseCommand):
    help = (
        "Migrate safely: refuse if the data is newer than this code, back up every workspace "
        "first (always in production), migrate, stamp the schema version, rebuild views."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--backup",
            action="store_true",
            help="Back up every workspace first even outside production or with nothing to apply.",
        )

    def handle(self, *args, **options):
        reason = versions.refusal_reason()
        if reason is not None and reason[0] == 409:  # version 0 (503) is what this fixes
            raise CommandError(reason[1])
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        production = settings.DJANGO_ENV == "production"
        backups = []
        if (plan and production) or options["backup"]:
            try:
                for workspace in Workspace.objects.order_by("slug"):
                    record = services.backup_create(
                        workspace=workspace, trigger=BackupTrigger.MIGRATION
                    )
                    backups.append(record.backup_id)
                    self.stdout.write(f"Backed up {workspace.slug}: {record.backup_id}")
            except Exception as exc:  # no migration without a backup of everything
                raise CommandError(
                    f"Backup before migrating failed, nothing migrated: {exc}."
                ) from None
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        try:
            row = versions.schema_stamp(migrated=True)
            rebuilt = versions.views_sync()
            row.refresh_from_db()  # as the sync left it
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        audit_record(
            action=AuditAction.MIGRATION,
            summary=f"Migrated {len(plan)} migrations; app schema version {row.app_version}",
            data={
                "migrations": [f"{m.app_label}.{m.name}" for m, _ in plan],
                "backups": backups,
                "views_rebuilt": rebuilt,
            },
        )
        if rebuilt is not None:
            self.stdout.write(f"Views rebuilt: {rebuilt}.")
        self.stdout.write(f"Schema is at app version {row.app_version}, views {row.views_version}.")
