"""`manage.py migrate`, guarded: in production it refuses to apply migrations unless every
workspace has a backup taken after the last migration applied (`migrate_safely` takes
them, then calls this command, which then passes).

Outside production, and for `--plan`/`--check` or a database with nothing to apply, it is
Django's migrate unchanged. Data newer than this code (seed 004) is refused everywhere.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from durability import versions


def unguarded_reason(using: str = "default") -> str | None:
    """Why a plain migrate must not run on `using` now (production only), or None."""
    if getattr(settings, "DJANGO_ENV", "local") != "production":
        return None
    connection = connections[using]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return None
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return None  # a fresh database: there is nothing to lose
    last = recorder.migration_qs.order_by("-applied").values_list("applied", flat=True).first()
    try:
        from durability.models import BackupRecord, BackupStatus
        from workspaces.models import Workspace

        workspaces = list(Workspace.objects.using(using).values_list("pk", "slug"))
        fresh = set(
            BackupRecord.objects.using(using)
            .filter(status=BackupStatus.SUCCEEDED, taken_at__gt=last)
            .values_list("workspace_id_scope", flat=True)
        )
    except DatabaseError:
        return None  # the apps' tables do not exist yet: nothing to back up
    lacking = sorted(slug for pk, slug in workspaces if pk not in fresh)
    if not lacking:
        return None
    shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
    return (
        f"Refusing to apply {len(plan)} migrations in production: {len(lacking)} workspaces "
        f"({shown}) have no backup newer than the last migration applied ({last:%Y-%m-%d %H:%M} "
        "UTC); run `manage.py migrate_safely`, which backs everything up first."
    )


class Command(DjangoMigrate):
    help = (
        DjangoMigrate.help
        + " In production it refuses unless every workspace has a backup newer than the last "
        "migration (use `manage.py migrate_safely`)."
    )

    def handle(self, *args, **options):
        using = options["database"]
        if not options.get("plan") and not options.get("check_unapplied"):
            reason = versions.refusal_reason(using)
            if reason is not None and reason[0] == 409:
                raise CommandError(reason[1])
            refusal = unguarded_reason(using)
            if refusal is not None:
                raise CommandError(refusal)
        return super().handle(*args, **options)
