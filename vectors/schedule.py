"""Periodic jobs of the knowledge index (merged into beat by config/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "vectors-recall-audit": {
        "task": "vectors.recall_audit",
        "schedule": crontab(hour=4, minute=30),
    },
}
