"""Admin for repository sync, agent runs and exports: read-only, like the rest of the
pipeline (writes go through the services); critical rows cannot be deleted here."""

from django.contrib import admin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin

from .sync_models import AgentRun, ExportJob, RepoDelivery, RepoSyncState


@admin.register(RepoSyncState)
class RepoSyncStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["repo", "status", "head_sha", "stats_source", "synced_at"]
    list_filter = ["status", "stats_source"]
    search_fields = ["head_sha", "repo__name", "repo__owner"]
    exclude = ["secret_generation"]


@admin.register(RepoDelivery)
class RepoDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["delivery_id", "repo", "event", "status", "after", "created_at"]
    list_filter = ["status", "event", "forced"]
    search_fields = ["delivery_id", "before", "after"]


@admin.register(AgentRun)
class AgentRunAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["id", "project", "agent", "trigger", "priority", "status", "attempts",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "agent", "trigger"]
    search_fields = ["id", "trigger_ref", "result_path"]


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["id", "project", "format", "status", "progress", "expires_at", "created_at"]
    list_filter = ["status", "format"]
    search_fields = ["id", "sha256"]
