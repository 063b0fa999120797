"""`manage.py resync [--repo ID | --project ID]`: rebuild the repository-sourced caches
(settings, stats, metadata) from the repositories, which are their source of truth."""

from django.core.management.base import BaseCommand, CommandError

from deployments.git import GitError
from deployments.models import Repo
from deployments.services import repo_sync


class Command(BaseCommand):
    help = "Rebuild the settings, stats and metadata caches from the connected repositories."

    def add_arguments(self, parser):
        parser.add_argument("--repo", help="only this repository (id)")
        parser.add_argument("--project", help="only this project's repositories (id)")

    def handle(self, *args, **options):
        repos = Repo.objects.order_by("created_at")
        if options["repo"]:
            repos = repos.filter(pk=options["repo"])
        if options["project"]:
            repos = repos.filter(project_id=options["project"])
        failed = 0
        for repo in repos:
            try:
                outcome = repo_sync.repo_resync(repo=repo)
            except GitError as exc:
                failed += 1
                self.stderr.write(f"{repo.pk} {repo}: {exc}")
                continue
            self.stdout.write(f"{repo.pk} {repo}: {outcome}")
        if failed:
            raise CommandError(f"{failed} repositories could not be read.")
