from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ServiceError
from governance.durability import services


class Command(BaseCommand):
    help = "Restore a backup, all or nothing, after verifying every checksum."

    def add_arguments(self, parser):
        parser.add_argument("location")

    def handle(self, *args, **options):
        try:
            rows = services.restore_backup(options["location"])
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Restored {rows} rows.")
