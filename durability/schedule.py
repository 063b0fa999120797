"""Beat jobs of the durability app (merged into beat's schedule by config/celery.py)."""

from django.conf import settings

BEAT_SCHEDULE = {
    "durability-scheduled-backups": {
        "task": "durability.scheduled_backups",
        "schedule": float(settings.BACKUP_INTERVAL_SECONDS),
        "options": {"expires": float(settings.BACKUP_INTERVAL_SECONDS)},
    },
    "durability-incremental-backups": {
        "task": "durability.incremental_backups",
        "schedule": float(settings.BACKUP_INCREMENTAL_INTERVAL_SECONDS),
        "options": {"expires": float(settings.BACKUP_INCREMENTAL_INTERVAL_SECONDS)},
    },
    "durability-verify-newest": {
        "task": "durability.verify_newest",
        "schedule": float(settings.BACKUP_VERIFY_INTERVAL_SECONDS),
        "options": {"expires": float(settings.BACKUP_VERIFY_INTERVAL_SECONDS)},
    },
}
