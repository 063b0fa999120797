"""The one notification service for events beyond mentions (approvals, deployments,
invitations, backups): `notify` writes in-app notifications in the caller's transaction,
only for recipients who are members of the workspace; `notifications_prune` is the
retention beat job (read ones after NOTIFICATION_RETENTION_DAYS, all after
NOTIFICATION_MAX_AGE_DAYS)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import Membership
from workspaces.models import Workspace

from .models import Notification, NotificationKind


def notify(
    *, workspace_id, kind: str, recipients, actor_id=None, summary: str = "", link: str = ""
) -> list[Notification]:
    if kind not in NotificationKind.values:
        return []
    team_id = Workspace.objects.filter(pk=workspace_id).values_list("team_id", flat=True).first()
    members = set(
        Membership.objects.filter(team_id=team_id, user_id__in=list(recipients)).values_list(
            "user_id", flat=True
        )
    )
    return Notification.objects.bulk_create(
        Notification(
            workspace_id=workspace_id,
            recipient_id=user_id,
            actor_id=actor_id,
            kind=kind,
            excerpt=summary[:200],
            link=link[:500],
        )
        for user_id in recipients
        if user_id in members and user_id != actor_id
    )


def notifications_prune(*, now=None) -> int:
    now = now or timezone.now()
    read_cutoff = now - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    max_cutoff = now - timedelta(days=settings.NOTIFICATION_MAX_AGE_DAYS)
    deleted, _ = Notification.objects.filter(read_at__lt=read_cutoff).delete()
    more, _ = Notification.objects.filter(created_at__lt=max_cutoff).delete()
    return deleted + more
