"""Admin for the knowledge index: read-only; citations revert-only; the recall audit shown
with its flag so ops see a namespace whose index lost recall."""

from django.contrib import admin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin, RevertOnlyAdminMixin

from .models import (
    Chunk,
    Citation,
    Embedding,
    Namespace,
    RecallAudit,
    RepoIndex,
    SearchQueryLog,
)


@admin.register(Namespace)
class NamespaceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "model", "dimension", "generation", "updated_at"]
    search_fields = ["name"]
    list_filter = ["model", "dimension"]


@admin.register(Chunk)
class ChunkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["namespace", "type", "file", "ordinal", "page_start", "page_end"]
    list_filter = ["type"]
    search_fields = ["namespace", "text"]
    show_full_result_count = False


@admin.register(Embedding)
class EmbeddingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["chunk", "namespace", "model", "dimension"]
    search_fields = ["namespace"]
    list_filter = ["model", "dimension"]
    exclude = ["vector"]
    show_full_result_count = False


@admin.register(Citation)
class CitationAdmin(RevertOnlyAdminMixin, HistoryAdmin):
    list_display = ["source_kind", "source_id", "file", "page_start", "created_at"]
    list_filter = ["source_kind"]
    search_fields = ["quote", "file__name"]


@admin.register(SearchQueryLog)
class SearchQueryLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["namespace", "query", "created_at"]
    search_fields = ["namespace", "query"]
    list_filter = ["created_at"]


@admin.register(RepoIndex)
class RepoIndexAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "namespace",
        "commit_sha",
        "extraction_version",
        "files",
        "chunks",
        "updated_at",
    ]
    search_fields = ["namespace", "commit_sha"]
    list_filter = ["extraction_version"]


@admin.register(RecallAudit)
class RecallAuditAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "namespace",
        "backend",
        "k",
        "queries",
        "recall_display",
        "short_results",
        "threshold",
        "flagged",
        "created_at",
    ]
    list_filter = ["flagged", "backend"]
    search_fields = ["namespace"]

    @admin.display(description="recall@k", ordering="recall")
    def recall_display(self, obj):
        mark = " ⚠ below threshold" if obj.flagged else ""
        return f"{obj.recall:.3f}{mark}"
