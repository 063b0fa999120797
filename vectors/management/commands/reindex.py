"""`manage.py reindex [--project ID]`: rebuild file chunks and embeddings from the files."""

from django.core.management.base import BaseCommand, CommandError

from vectors import services
from workspaces.models import Project


class Command(BaseCommand):
    help = "Rebuild every project's file chunks (or one project's) from its stored files."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="Project id (default: every project).")

    def handle(self, *args, **options):
        projects = Project.objects.order_by("created_at")
        if options["project"]:
            try:
                projects = projects.filter(pk=options["project"])
                found = projects.exists()
            except Exception:  # a malformed id
                found = False
            if not found:
                raise CommandError(f"No project with id {options['project']}.")
        total = 0
        for project in projects:
            count = services.project_reindex(project=project)
            total += count
            self.stdout.write(f"{project.pk}: {count} files reindexed")
        self.stdout.write(f"{total} files reindexed")
