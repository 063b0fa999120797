from django.core.management.base import BaseCommand

from governance.durability.selectors import list_backups


class Command(BaseCommand):
    help = "List recorded backups, newest first."

    def handle(self, *args, **options):
        for record in list_backups():
            self.stdout.write(
                f"{record.created_at:%Y-%m-%d %H:%M:%S} {record.status} "
                f"{record.row_count} rows {record.location}"
            )
