"""Periodic jobs of the shipping pipeline (merged into beat by config/celery.py)."""

BEAT_SCHEDULE = {
    "deployments-reap-sandbox-jobs": {
        "task": "deployments.reap_sandbox_jobs",
        "schedule": 60.0,
    },
    "deployments-expire-approvals": {
        "task": "deployments.expire_approvals",
        "schedule": 300.0,
    },
    "deployments-refresh-deployments": {
        "task": "deployments.refresh_deployments",
        "schedule": 60.0,
    },
}
