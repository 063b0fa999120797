"""The kernel's periodic jobs (merged into beat by config/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "common-prune-request-logs": {
        "task": "common.prune_request_logs",
        "schedule": crontab(hour=3, minute=15),
    },
}
