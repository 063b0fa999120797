"""Collaboration's periodic jobs (merged into beat by common.app_list.collect_beat_schedule)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "collaboration-prune-notifications": {
        "task": "collaboration.prune_notifications",
        "schedule": crontab(hour=3, minute=50),
    },
    "collaboration-sweep-webhook-deliveries": {
        "task": "collaboration.sweep_webhook_deliveries",
        "schedule": 60.0,
    },
    "collaboration-prune-webhook-deliveries": {
        "task": "collaboration.prune_webhook_deliveries",
        "schedule": 24 * 3600.0,
    },
}
