"""Periodic jobs of collaboration (merged into beat by config/celery.py)."""

BEAT_SCHEDULE = {
    "collaboration-sweep-webhook-deliveries": {
        "task": "collaboration.sweep_webhook_deliveries",
        "schedule": 60.0,
    },
    "collaboration-prune-webhook-deliveries": {
        "task": "collaboration.prune_webhook_deliveries",
        "schedule": 24 * 3600.0,
    },
    "collaboration-prune-notifications": {
        "task": "collaboration.prune_notifications",
        "schedule": 24 * 3600.0,
    },
}
