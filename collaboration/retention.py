"""Retention for collaboration's derived data (seed 002's retention table).

Notifications expire after NOTIFICATION_RETENTION_DAYS (beat: daily). Discovery results
and graph projections expire by their cache TTL (5 minutes); chat, identity and
moderation logs are permanent. The task is imported by CollaborationConfig.ready().
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Notification


@transaction.atomic
def notifications_prune(*, now=None) -> int:
    """Delete notifications created, or read, more than NOTIFICATION_RETENTION_DAYS ago."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    expired = Q(created_at__lt=cutoff) | Q(read_at__lt=cutoff)
    removed, _ = Notification.objects.filter(expired).delete()
    return removed


@shared_task(name="collaboration.prune_notifications", ignore_result=True, acks_late=True)
def prune_notifications() -> int:
    """Notifications past NOTIFICATION_RETENTION_DAYS (idempotent)."""
    return notifications_prune()
