"""Admin for workspaces and projects: read-only but for reverting to a historical version;
writes go through workspaces.services (the API), and a workspace is removed only by the
audited purge."""

from django.contrib import admin

from common.admin import HistoryAdmin, RevertOnlyAdminMixin

from .models import Project, ProjectFile, ProjectSkill, Workspace


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


@admin.register(ProjectFile)
class ProjectFileAdmin(RevertOnlyAdminMixin, HistoryAdmin):
    list_display = ["name", "project", "size", "status", "extraction_version", "created_at"]
    search_fields = ["name", "sha256", "project__slug"]
    list_filter = ["status"]


@admin.register(ProjectSkill)
class ProjectSkillAdmin(RevertOnlyAdminMixin, HistoryAdmin):
    list_display = ["name", "name_norm", "project", "updated_at"]
    search_fields = ["name", "name_norm", "project__slug"]
    list_filter = ["updated_at"]
