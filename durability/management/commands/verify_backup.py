from django.core.management.base import BaseCommand, CommandError

from durability import services
from durability.management.progress import ProgressPrinter


class Command(BaseCommand):
    help = (
        "Check a backup: every checksum, then a restore into a scratch database "
        "compared with the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup_id")
        parser.add_argument(
            "--checksums-only",
            action="store_true",
            help="Only check the checksums (no scratch-database restore).",
        )

    def handle(self, *args, **options):
        printer = ProgressPrinter(self.stdout)
        result = services.backup_verify(
            backup_id=options["backup_id"], scratch=not options["checksums_only"], progress=printer
        )
        printer.finish()
        if not result["ok"]:
            problems = "; ".join(result["problems"])
            raise CommandError(f"Backup {options['backup_id']} failed verification: {problems}.")
        self.stdout.write(
            f"Backup {options['backup_id']} is intact: {result['parts']} parts, "
            f"{result['rows']} rows restored and compared."
        )
