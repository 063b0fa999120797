from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from common.exceptions import ServiceError
from governance.durability import services


class Command(BaseCommand):
    help = "Back up, migrate, record the new schema version, and rebuild views if needed."

    def add_arguments(self, parser):
        parser.add_argument("--skip-backup", action="store_true")

    def handle(self, *args, **options):
        try:
            services.check_schema_version()
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        if not options["skip_backup"]:
            record = services.create_backup()
            self.stdout.write(f"Backup written to {record.location}.")
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        doc = services.schema_document()
        views_changed = doc.views_version != services.VIEWS_VERSION
        doc.app_version = services.APP_VERSION
        doc.views_version = services.VIEWS_VERSION
        doc.save()
        if views_changed and "rebuild_views" in get_commands():
            call_command("rebuild_views")
            self.stdout.write("Views rebuilt.")
        self.stdout.write(f"Schema is at app version {doc.app_version}.")
