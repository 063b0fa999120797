"""`manage.py draftforge_stats REPO_PATH [--branch main] [--commit]`: compute seed 001's
`.draftforge/stats.json` for a local repository and print it, or commit it (`--commit`).

The same computation Holdfast runs on sync, shipped so a CI job or GitHub Action in the
author's repository can write the file itself (`github_actions.stats_enabled: true`)."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from deployments import draftforge as df
from deployments.git import GitError, commit_with_retry
from deployments.git.local import DulwichBackend


class Command(BaseCommand):
    help = "Compute .draftforge/stats.json for a local git repository."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--branch", default="main")
        parser.add_argument("--commit", action="store_true", help="commit the file")

    def handle(self, *args, **options):
        try:
            backend = DulwichBackend(options["path"])
            head = backend.head(options["branch"])
            if head is None:
                raise CommandError(f"The branch {options['branch']} does not exist.")
            data = backend.read(head, df.CONFIG)
            config = df.parse_yaml(data, path=df.CONFIG, schema_name="config") if data else {}
            stats, _ = df.compute_stats(backend, head, config=config)
            df.validate("stats", stats, path=df.STATS)
            if options["commit"]:
                sha, _ = commit_with_retry(
                    backend,
                    branch=options["branch"],
                    build=lambda h: {df.STATS: df.dump_json(stats)},
                    message="Update .draftforge/stats.json",
                    author=settings.REPO_COMMIT_AUTHOR,
                )
                self.stdout.write(f"committed {sha}")
                return
        except (GitError, df.InvalidFile) as exc:
            raise CommandError(str(exc))
        sys.stdout.write(df.dump_json(stats).decode())
