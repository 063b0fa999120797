"""Admin for the safety and social models: all read-only (the logs are immutable, edges and
risk profiles change through their services). Risk-profile signals are never shown here:
reading them is an audited moderator action (the moderation page and API)."""

from django.contrib import admin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin

from .models import Edge, IdentityEvent, ModerationAction, RiskProfile


@admin.register(IdentityEvent)
class IdentityEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "old_value", "new_value", "actor", "reason"]
    list_filter = ["kind"]
    search_fields = ["user__handle", "reason"]
    list_select_related = ["user", "actor"]


@admin.register(Edge)
class EdgeAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["from_user", "type", "to_user", "created_at"]
    list_filter = ["type"]
    search_fields = ["from_user__handle", "to_user__handle"]
    list_select_related = ["from_user", "to_user"]


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "type", "user", "reason", "reversible", "created_by"]
    list_filter = ["type", "reversible"]
    search_fields = ["user__handle", "reason"]
    list_select_related = ["user", "created_by"]


@admin.register(RiskProfile)
class RiskProfileAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["user", "risk_level", "updated_at", "updated_by"]
    list_filter = ["risk_level"]
    search_fields = ["user__handle"]
    exclude = ["signals_ciphertext"]
    list_select_related = ["user", "updated_by"]
