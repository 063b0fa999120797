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
        parser.add_argument("backup_id")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, **options):
        backup_id = options["backup_id"]
        try:
            manifest = archive.read_manifest(backup_id)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        ws = manifest["workspace"]
        if options["interactive"] and sys.stdin.isatty():
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
