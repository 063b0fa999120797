"""Billing's beat jobs are collected into beat's schedule and name registered tasks."""

from billing.schedule import BEAT_SCHEDULE


def test_every_billing_beat_job_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    for name, entry in BEAT_SCHEDULE.items():
        assert app.conf.beat_schedule[name]["task"] == entry["task"]
        assert entry["task"] in app.tasks, entry["task"]
    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"billing.grant_monthly_credits", "billing.rollup_kpi"} <= tasks
    assert "billing.recompute_priors" in tasks
