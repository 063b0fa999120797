"""Admin for collaboration: history for comments and threads; the event log and the
materialized view are read-only (writes go through the services)."""

from django.contrib import admin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin

from .models import Comment, Message, MessageEvent, Notification, Thread, ThreadParticipant


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
