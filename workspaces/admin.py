"""Admin for workspaces and projects."""

from django.contrib import admin

from common.admin import HistoryAdmin

from .models import Project, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(HistoryAdmin):
    list_display = ["slug", "name", "team", "created_at"]
    search_fields = ["slug", "name", "team__name"]
    list_filter = ["team"]


@admin.register(Project)
class ProjectAdmin(HistoryAdmin):
    list_display = ["name", "slug", "workspace", "status", "created_at"]
    search_fields = ["name", "slug", "workspace__slug"]
    list_filter = ["status"]
