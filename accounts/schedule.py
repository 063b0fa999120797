"""Accounts' periodic jobs (merged into beat by config/celery.py)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "accounts-prune-login-attempts": {
        "task": "accounts.prune_login_attempts",
        "schedule": crontab(minute=40),
    },
    "accounts-prune-mail": {
        "task": "accounts.prune_mail",
        "schedule": crontab(hour=3, minute=40),
    },
    "accounts-expire-invitations": {
        "task": "accounts.expire_invitations",
        "schedule": crontab(minute=45),
    },
}
