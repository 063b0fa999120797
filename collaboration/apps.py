from django.apps import AppConfig


class CollaborationConfig(AppConfig):
    name = "collaboration"
    verbose_name = "Collaboration"

    def ready(self) -> None:
        from common import events, panels

        # discovery registers its cache store; retention its beat task.
        from . import discovery, presence, retention, views, webhooks  # noqa: F401

        events.register(webhooks.handle_event)  # outbox + notifications for every event
        presence.register()
        panels.register(
            panels.Panel(
                "settings",
                "webhooks",
                "Webhooks",
                "collaboration/_webhooks.html",
                views.webhooks_panel,
                order=50,
            )
        )
        panels.register(
            panels.Panel(
                "header",
                "notification-badge",
                "Notifications",
                "collaboration/_notification_badge.html",
                views.notification_badge,
            )
        )
        panels.register(
            panels.Panel(
                "workspace",
                "presence",
                "Members present",
                "collaboration/_presence.html",
                views.presence_panel,
                order=10,
            )
        )
        panels.register(
            panels.Panel(
                "project",
                "comments",
                "Comments",
                "collaboration/_comments.html",
                views.comments_panel,
                order=10,
            )
        )
