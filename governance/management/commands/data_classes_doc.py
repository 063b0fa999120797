"""Write docs/data-classes.md from the registry; `--check` exits 1 when the file is stale."""

from django.core.management.base import BaseCommand, CommandError

from governance.docs import doc_path, render


class Command(BaseCommand):
    help = "Generate docs/data-classes.md from the data-class registry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Do not write; fail if the file is stale."
        )

    def handle(self, *args, check=False, **options):
        path = doc_path()
        fresh = render()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if check:
            if current != fresh:
                raise CommandError(
                    f"{path.name} is stale; run `python manage.py data_classes_doc`."
                )
            self.stdout.write(f"{path.name} is up to date.")
            return
        if current == fresh:
            self.stdout.write(f"{path.name} is already up to date.")
            return
        path.write_text(fresh, encoding="utf-8")
        self.stdout.write(f"Wrote {path}.")
