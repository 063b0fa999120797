"""Admin for collaboration: history for comments and threads; the event log and the
materialized view are read-only (writes go through the services)."""

from django.contrib import admin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin

from .models import (
    Comment,
    Message,
    MessageEvent,
    Notification,
    Thread,
    ThreadParticipant,
    WebhookDelivery,
    WebhookEndpoint,
)


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["id", "project", "author", "is_deleted", "created_at", "edited_at"]
    list_filter = ["is_deleted", "workspace"]
    search_fields = ["body", "author__handle", "project__slug"]
    raw_id_fields = ["workspace", "project", "parent", "author"]


@admin.register(Thread)
class ThreadAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["title", "workspace", "project", "last_seq", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["title", "workspace__slug"]
    raw_id_fields = ["workspace", "project", "created_by"]


@admin.register(MessageEvent)
class MessageEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["thread", "seq", "kind", "message_id", "author", "created_at"]
    list_filter = ["kind"]
    search_fields = ["body", "client_id", "author__handle", "=message_id"]
    list_select_related = ["thread", "author"]
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["thread", "seq", "author", "edited", "deleted", "posted_at"]
    list_filter = ["edited", "deleted"]
    search_fields = ["body", "author__handle", "client_id"]
    list_select_related = ["thread", "author"]
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "recipient", "actor", "workspace", "read_at", "created_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["recipient__handle", "actor__handle", "excerpt"]
    list_select_related = ["recipient", "actor", "workspace"]


@admin.register(ThreadParticipant)
class ThreadParticipantAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Who may read a private thread; written only by collaboration.private."""

    list_display = ["thread", "user", "added_by", "created_at"]
    search_fields = ["thread__title", "user__handle"]
    list_filter = ["created_at"]
    list_select_related = ["thread", "user", "added_by"]


# --- outbound webhooks: endpoints (secrets never shown) and the delivery log -------------


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["url", "workspace", "events", "is_active", "disabled_reason", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "workspace__slug"]
    exclude = ["secret", "previous_secret"]
    raw_id_fields = ["workspace", "created_by"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "status", "attempts", "response_status",
                    "latency_ms", "last_error", "created_at"]  # fmt: skip
    list_filter = ["status", "event_type"]
    search_fields = ["message_id", "endpoint__url"]
    raw_id_fields = ["workspace", "endpoint"]
    actions = ["replay"]

    @admin.action(description="Send the selected deliveries again (same webhook-id)")
    def replay(self, request, queryset):
        from .webhooks import delivery_replay

        done = 0
        for delivery in queryset:
            try:
                delivery_replay(delivery=delivery, actor=request.user)
                done += 1
            except Exception as exc:  # noqa: BLE001 - shown to the operator, others continue
                self.message_user(request, f"{delivery}: {exc}", level="error")
        self.message_user(request, f"{done} deliveries queued again.")
