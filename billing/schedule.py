"""Billing's periodic jobs (merged into beat by config/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "billing-grant-monthly-credits": {
        "task": "billing.grant_monthly_credits",
        # Hourly, not only on the 1st: a missed run (beat down at midnight) catches up,
        # and the per-month idempotency key makes every later run a no-op.
        "schedule": crontab(minute=5),
    },
    "billing-rollup-kpi": {
        "task": "billing.rollup_kpi",
        "schedule": 600.0,
    },
    "billing-recompute-priors": {
        "task": "billing.recompute_priors",
        "schedule": crontab(minute=20),
    },
}
