"""Admin for workspaces and projects: read-only but for reverting to a historical version;
writes go through workspaces.services (the API), and a workspace is removed only by the
audited purge."""

from django.contrib import admin

from common.admin import HistoryAdmin, RevertOnlyAdminMixin

from .models import Project, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(RevertOnlyAdminMixin, HistoryAdmin):
    list_display = ["slug", "name", "team", "created_at"]
    search_fields = ["slug", "name", "team__name"]
    list_filter = ["team"]


@admin.register(Project)
class ProjectAdmin(RevertOnlyAdminMixin, HistoryAdmin):
    list_display = ["name", "slug", "workspace", "status", "created_at"]
    search_fields = ["name", "slug", "workspace__slug"]
    list_filter = ["status"]
