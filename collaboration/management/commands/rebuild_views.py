"""`manage.py rebuild_views [--workspace SLUG]`: regenerate every app's materialized views.

Calls `rebuild(workspace=...)` of each `<app>.materialized` module
(common.app_list.app_modules("materialized")) and prints the rows each rebuilt view holds.
"""

from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from common.app_list import app_modules
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Regenerate materialized views (e.g. chat messages) from their event logs."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Only this workspace's views (its slug).")

    def handle(self, *args, workspace=None, **options):
        ws = None
        if workspace:
            ws = Workspace.objects.filter(slug=workspace).first()
            if ws is None:
                raise CommandError(f"No workspace with slug {workspace!r}.")
        total = 0
        for name in app_modules("materialized"):
            module = import_module(name)
            rows = module.rebuild(workspace=ws)
            total += rows
            self.stdout.write(f"{name}: {rows} rows (views version {module.VIEWS_VERSION})")
        scope = f"workspace {ws.slug}" if ws else "all workspaces"
        self.stdout.write(self.style.SUCCESS(f"Rebuilt {total} rows for {scope}."))
