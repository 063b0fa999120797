"""Collaboration pages under /w/<slug>/: chat, comments, notifications, presence."""

from django.urls import path

from . import social_views, views

W = "w/<slug:slug>/"
T = W + "chat/<uuid:thread_id>/"
M = T + "messages/<uuid:message_id>/"
C = W + "p/<slug:project_slug>/comments/"

urlpatterns = [
    path(W + "chat/", views.threads, name="chat"),
    path(T, views.thread_detail, name="chat-thread"),
    path(T + "updates/", views.thread_updates, name="chat-updates"),
    path(T + "messages/", views.message_post, name="chat-post"),
    path(M, views.message_detail, name="chat-message"),
    path(M + "edit/", views.message_edit, name="chat-edit"),
    path(M + "delete/", views.message_delete, name="chat-delete"),
    path(M + "react/", views.message_react, name="chat-react"),
    path(W + "presence/", views.presence, name="presence"),
    path(C, views.comment_create, name="comment-create"),
    path(C + "<uuid:comment_id>/edit/", views.comment_edit, name="comment-edit"),
    path(C + "<uuid:comment_id>/reply/", views.comment_reply, name="comment-reply"),
    path(C + "<uuid:comment_id>/delete/", views.comment_delete, name="comment-delete"),
    path(C + "<uuid:comment_id>/history/", views.comment_history, name="comment-history"),
    path(W + "notifications/", views.notifications, name="notifications"),
    path(
        W + "notifications/read-all/", views.notifications_read_all, name="notifications-read-all"
    ),
    path(
        W + "notifications/<uuid:notification_id>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path("social/", social_views.social, name="social"),
    path(
        "social/<str:type>/<uuid:user_id>/remove/",
        social_views.social_remove,
        name="social-remove",
    ),
]
