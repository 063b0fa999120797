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
    # Repository sync (deployments/sync_tasks.py).
    "deployments-prune-repo-deliveries": {
        "task": "deployments.prune_repo_deliveries",
        "schedule": 3600.0,
    },
    "deployments-expire-exports": {
        "task": "deployments.expire_exports",
        "schedule": 3600.0,
    },
    "deployments-agent-runs-tick": {
        "task": "deployments.agent_runs_tick",
        "schedule": 30.0,
    },
}
