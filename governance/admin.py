"""Admin for governance: the audit log is read-only."""

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "workspace_slug", "actor", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "workspace_slug", "target_id"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
