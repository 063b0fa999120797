"""Collaboration's periodic jobs (merged into beat by config/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "collaboration-prune-notifications": {
        "task": "collaboration.prune_notifications",
        "schedule": crontab(hour=3, minute=50),
    },
}
