from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ServiceError
from durability import services
from durability.management.progress import ProgressPrinter, human_bytes
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Back up one workspace (or all); prints each new backup id as the last stdout line."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--workspace", help="Slug of the workspace to back up.")
        group.add_argument("--all", action="store_true", help="Back up every workspace.")
        group.add_argument(
            "--instance",
            action="store_true",
            help="Back up every global row (users, teams, tokens, plans, ...) and the catalogue.",
        )
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="Write a delta on the workspace's newest backup (rows changed since it).",
        )

    def handle(self, *args, **options):
        if options["instance"]:
            printer = ProgressPrinter(self.stdout)
            try:
                record = services.backup_instance_create(progress=printer)
            except ServiceError as exc:
                raise CommandError(str(exc)) from None
            except OSError as exc:
                raise CommandError(f"Instance backup failed: {exc}.") from None
            printer.finish()
            self.stdout.write(
                f"instance: {record.row_count} global rows, {human_bytes(record.byte_count)}"
            )
            self.stdout.write(record.backup_id)
            return
        if options["all"]:
            workspaces = list(Workspace.objects.order_by("slug"))
            if not workspaces:
                raise CommandError("There are no workspaces to back up.")
        else:
            workspace = Workspace.objects.filter(slug=options["workspace"]).first()
            if workspace is None:
                raise CommandError(f"There is no workspace with the slug {options['workspace']!r}.")
            workspaces = [workspace]
        ids = []
        for workspace in workspaces:
            printer = ProgressPrinter(self.stdout)
            try:
                record = services.backup_create(
                    workspace=workspace, progress=printer, incremental=options["incremental"]
                )
            except ServiceError as exc:
                raise CommandError(str(exc)) from None
            except OSError as exc:
                raise CommandError(f"Backup of {workspace.slug} failed: {exc}.") from None
            printer.finish()
            kind = f" (incremental on {record.parent_backup_id})" if record.parent_backup_id else ""
            self.stdout.write(
                f"{workspace.slug}{kind}: {record.row_count} rows, {record.file_count} files, "
                f"{human_bytes(record.byte_count)}"
            )
            ids.append(record.backup_id)
        for backup_id in ids:
            self.stdout.write(backup_id)
