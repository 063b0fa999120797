"""`manage.py reindex [--project ID]`: rebuild chunks and embeddings from the files and
from the artifact versions and from the repositories' synced commits (both listed by
deployments through `common.indexing`)."""

from django.core.management.base import BaseCommand, CommandError

from vectors import repos, services
from workspaces.models import Project


class Command(BaseCommand):
    help = (
        "Rebuild every project's file, artifact and code chunks (or one project's) from its "
        "stored files, artifact versions and repositories."
    )

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
        total = artifacts = repositories = 0
        for project in projects:
            count = services.project_reindex(project=project)
            versions = services.project_artifacts_reindex(project=project)
            repo_count = repos.project_repos_reindex(project=project)
            total += count
            artifacts += versions
            repositories += repo_count
            self.stdout.write(
                f"{project.pk}: {count} files, {versions} artifact versions, "
                f"{repo_count} repositories reindexed"
            )
        self.stdout.write(f"{total} files reindexed")
        self.stdout.write(f"{artifacts} artifact versions reindexed")
        self.stdout.write(f"{repositories} repositories reindexed")
