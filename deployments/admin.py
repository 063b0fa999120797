"""Admin for the shipping pipeline: history views for mutable records, read-only for the rest.

Ops read here; writes go through the API and services (approvals, transitions and
rollbacks are audited there), so every model is read-only in the admin.
"""

from django.contrib import admin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin

from .models import (
    Approval,
    Artifact,
    Deployment,
    InfraResource,
    Preview,
    PreviewVersion,
    Repo,
    Run,
    RunStep,
    SandboxJob,
)


@admin.register(Repo)
class RepoAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["__str__", "project", "default_branch", "created_at"]
    list_filter = ["provider"]
    search_fields = ["owner", "name"]


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    can_delete = False
    fields = ["step_id", "name", "status", "attempts", "started_at", "ended_at"]
    readonly_fields = fields


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["id", "project", "kind", "status", "started_at", "ended_at"]
    list_filter = ["status", "kind"]
    inlines = [RunStepInline]


@admin.register(RunStep)
class RunStepAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["step_id", "run", "name", "status", "attempts", "created_at"]
    list_filter = ["status"]
    search_fields = ["step_id", "name"]


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "logical_key", "version", "project", "size", "created_at"]
    list_filter = ["kind"]
    search_fields = ["logical_key", "sha256"]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["scope", "status", "project", "requested_by", "approved_by", "expires_at"]
    list_filter = ["status", "scope"]
    search_fields = ["intent_summary", "payload_sha256"]


@admin.register(SandboxJob)
class SandboxJobAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["id", "job_type", "status", "exit_code", "attempts", "started_at", "ended_at"]
    list_filter = ["status", "job_type"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["id", "project", "environment", "status", "commit_sha", "url", "created_at"]
    list_filter = ["environment", "status", "provider"]
    search_fields = ["commit_sha", "external_deployment_id", "url"]


class PreviewVersionInline(admin.TabularInline):
    model = PreviewVersion
    extra = 0
    can_delete = False
    fields = ["version", "sha256", "size", "created_by", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Preview)
class PreviewAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["slug", "workspace", "project", "active_version", "visibility"]
    list_filter = ["visibility"]
    search_fields = ["slug"]
    inlines = [PreviewVersionInline]


@admin.register(PreviewVersion)
class PreviewVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["preview", "version", "sha256", "size", "created_at"]


@admin.register(InfraResource)
class InfraResourceAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["__str__", "project", "region", "status", "created_at"]
    list_filter = ["provider", "resource_type", "status"]
    search_fields = ["external_id", "name"]


from . import sync_admin  # noqa: E402, F401  (repository sync, agent runs, exports)
