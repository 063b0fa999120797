from celery.schedules import crontab

BEAT_SCHEDULE = {
    "durability-nightly-backup": {
        "task": "durability.nightly_backup",
        "schedule": crontab(hour=2, minute=30),
    },
}
