import sys

from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ServiceError
from durability import archive, services
from durability.management.progress import ProgressPrinter


class Command(BaseCommand):
    help = (
        "Restore a backup: checks every checksum first, then replaces the workspace in place "
        "(or creates it when this instance does not have it), all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup_id", nargs="?")
        parser.add_argument(
            "--instance",
            action="store_true",
            help="Restore an instance backup (the newest one unless BACKUP_ID is given): every "
            "global row and the backup catalogue.",
        )
        parser.add_argument(
            "--with-workspaces",
            action="store_true",
            help="With --instance: then restore the newest catalogued backup of every workspace.",
        )
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, **options):
        backup_id = options["backup_id"]
        if backup_id is None and options["instance"]:
            backup_id = services.newest_instance_backup()
            if backup_id is None:
                raise CommandError("There is no complete instance backup in backup storage.")
        if backup_id is None:
            raise CommandError("Name the backup to restore (or use --instance).")
        try:
            manifest = archive.read_manifest(backup_id)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        if "workspace" not in manifest:
            return self._instance(backup_id, manifest, options)
        if options["instance"]:
            raise CommandError(f"Backup {backup_id} is a workspace backup, not an instance one.")
        self._workspace(backup_id, manifest, options)

    def _instance(self, backup_id, manifest, options):
        if options["interactive"] and sys.stdin.isatty():
            answer = input(
                f"This adds the global rows of {manifest['created_at']} that this instance "
                "lacks (existing rows stay as they are). Type 'yes' to continue: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled.")
        printer = ProgressPrinter(self.stdout, total=2 * len(manifest["parts"]))
        try:
            result = services.instance_restore(backup_id=backup_id, progress=printer)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        printer.finish()
        self.stdout.write(
            f"Restored {sum(result['rows'].values())} global rows and "
            f"{result['catalogued']} catalogue entries from instance backup {backup_id}."
        )
        for slug, workspace_backup in sorted(result["workspaces"].items()):
            if options["with_workspaces"]:
                self._workspace(
                    workspace_backup, archive.read_manifest(workspace_backup), options, ask=False
                )
            else:
                self.stdout.write(f"Next: manage.py restore {workspace_backup}  # {slug}")

    def _workspace(self, backup_id, manifest, options, ask=True):
        ws = manifest["workspace"]
        if ask and options["interactive"] and sys.stdin.isatty():
            answer = input(
                f"This replaces workspace {ws['slug']!r} with its state at "
                f"{manifest['created_at']}. Type 'yes' to continue: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Restore cancelled.")
        printer = ProgressPrinter(self.stdout, total=2 * len(manifest["parts"]))
        try:
            result = services.backup_restore(backup_id=backup_id, progress=printer)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        printer.finish()
        self.stdout.write(
            f"Restored {sum(result['rows'].values())} rows and {result['files']} files into "
            f"workspace {result['workspace']} ({result['mode']})."
        )
