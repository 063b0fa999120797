"""Collaboration routes under /api/v1/workspaces/{slug}/."""

from django.urls import path

from . import discovery, views, webhook_views

app_name = "collaboration-api"

WS = "workspaces/<slug:workspace_slug>/"
THREAD = WS + "threads/<uuid:thread_id>/"
MESSAGE = THREAD + "messages/<uuid:message_id>/"

urlpatterns = [
    path("me/discovery/", discovery.DiscoveryView.as_view(), name="me-discovery"),
    path(
        WS + "threads/",
        views.ThreadViewSet.as_view({"get": "list", "post": "create"}),
        name="threads",
    ),
    path(
        THREAD,
        views.ThreadViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="thread",
    ),
    path(
        THREAD + "messages/",
        views.MessageViewSet.as_view({"get": "list", "post": "create"}),
        name="messages",
    ),
    path(
        MESSAGE,
        views.MessageViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="message",
    ),
    path(MESSAGE + "edit/", views.MessageViewSet.as_view({"post": "edit"}), name="message-edit"),
    path(
        MESSAGE + "reactions/",
        views.ReactionViewSet.as_view({"post": "create", "delete": "destroy"}),
        name="message-reactions",
    ),
    path(THREAD + "events/", views.EventViewSet.as_view({"get": "list"}), name="events"),
    path(
        WS + "comments/",
        views.CommentViewSet.as_view({"get": "list", "post": "create"}),
        name="comments",
    ),
    path(
        WS + "comments/<uuid:pk>/",
        views.CommentViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="comment",
    ),
    path(
        WS + "presence/",
        views.PresenceViewSet.as_view({"get": "list", "post": "heartbeat"}),
        name="presence",
    ),
    path(
        WS + "notifications/",
        views.NotificationViewSet.as_view({"get": "list"}),
        name="notifications",
    ),
    path(
        WS + "notifications/unread-count/",
        views.NotificationViewSet.as_view({"get": "unread_count"}),
        name="notifications-unread-count",
    ),
    path(
        WS + "notifications/read-all/",
        views.NotificationViewSet.as_view({"post": "mark_all_read"}),
        name="notifications-read-all",
    ),
    path(
        WS + "notifications/<uuid:pk>/read/",
        views.NotificationViewSet.as_view({"post": "mark_read"}),
        name="notification-read",
    ),
    path(
        WS + "webhooks/",
        webhook_views.WebhookViewSet.as_view({"get": "list", "post": "create"}),
        name="webhooks",
    ),
    path(
        WS + "webhooks/<uuid:pk>/",
        webhook_views.WebhookViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="webhook",
    ),
    path(
        WS + "webhooks/<uuid:pk>/rotate-secret/",
        webhook_views.WebhookViewSet.as_view({"post": "rotate_secret"}),
        name="webhook-rotate-secret",
    ),
    path(
        WS + "webhooks/<uuid:pk>/deliveries/",
        webhook_views.WebhookViewSet.as_view({"get": "deliveries"}),
        name="webhook-deliveries",
    ),
    path(
        WS + "webhooks/<uuid:webhook_id>/deliveries/<uuid:pk>/replay/",
        webhook_views.WebhookDeliveryViewSet.as_view({"post": "replay"}),
        name="webhook-delivery-replay",
    ),
]
