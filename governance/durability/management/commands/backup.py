from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ServiceError
from governance.durability import services


class Command(BaseCommand):
    help = "Write a verified backup of every registered model (or one workspace)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Back up only this workspace (slug or id).")

    def _progress(self, key, rows):
        if self.stdout.isatty():  # one line redrawn in place on a terminal
            self.stdout.write(f"\r\033[K{key}: {rows} rows", ending="")
        else:
            self.stdout.write(f"{key}: {rows} rows")

    def handle(self, *args, **options):
        from workspaces.models import Workspace

        workspace = None
        if options["workspace"]:
            ref = options["workspace"]
            workspace = Workspace.objects.filter(slug=ref).first()
            if workspace is None:
                try:
                    workspace = Workspace.objects.filter(pk=ref).first()
                except Exception:
                    workspace = None
            if workspace is None:
                raise CommandError(f"No workspace {ref!r}.")
        try:
            record = services.create_backup(
                workspace=workspace,
                progress=self._progress,
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        if self.stdout.isatty():
            self.stdout.write("")
        self.stdout.write(f"Backup written to {record.location} ({record.row_count} rows).")
