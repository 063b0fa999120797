from django.core.management.base import BaseCommand

from durability.management.progress import human_bytes
from durability.models import BackupRecord
from durability.selectors import stored_backups


class Command(BaseCommand):
    help = (
        "List the backups in backup storage, newest first, one per line starting with its id; "
        "each line ends with `full`, `incremental parent=<id>` (the chain it restores "
        "through) or `instance` (every global row and the catalogue)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace's backups (slug).")
        parser.add_argument(
            "--incomplete", action="store_true", help="Also list interrupted or damaged backups."
        )

    def handle(self, *args, **options):
        slug = options["workspace"]
        found = stored_backups(workspace_slug=slug, include_incomplete=options["incomplete"])
        verified = dict(
            BackupRecord.objects.filter(backup_id__in=[b.backup_id for b in found]).values_list(
                "backup_id", "verify_status"
            )
        )
        for backup in found:
            if not backup.complete:
                if slug and not backup.backup_id.startswith(f"{slug}-"):
                    continue
                self.stdout.write(f"{backup.backup_id} INCOMPLETE {backup.error}")
                continue
            m = backup.manifest
            if "workspace" not in m:
                self.stdout.write(
                    f"{backup.backup_id} complete instance {m['created_at']} "
                    f"{m['totals']['rows']} rows {len(m.get('catalogue', []))} backups catalogued "
                    f"{human_bytes(m['totals']['bytes'])} "
                    f"verify={verified.get(backup.backup_id, 'never')} instance"
                )
                continue
            self.stdout.write(
                f"{backup.backup_id} complete {m['workspace']['slug']} {m['created_at']} "
                f"{m['totals']['rows']} rows {m['totals']['files']} files "
                f"{human_bytes(m['totals']['bytes'])} "
                f"verify={verified.get(backup.backup_id, 'never')}"
                + (f" incremental parent={m['parent']}" if m.get("parent") else " full")
            )
