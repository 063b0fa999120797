from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ServiceError
from governance.durability import services


class Command(BaseCommand):
    help = "Check every checksum in a backup."

    def add_arguments(self, parser):
        parser.add_argument("location")

    def handle(self, *args, **options):
        try:
            problems = services.verify_backup(options["location"])
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        if problems:
            raise CommandError("The backup is damaged: " + "; ".join(problems) + ".")
        self.stdout.write("The backup is intact.")
