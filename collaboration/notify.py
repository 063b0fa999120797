"""The one notification service for events beyond mentions (approvals, deployments,
invitations, backups): `notify` writes in-app notifications in the caller's transaction,
only for recipients who are members of the workspace. Retention is
`collaboration.retention.notifications_prune` (NOTIFICATION_RETENTION_DAYS)."""

from __future__ import annotations

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
