"""Billing's Celery tasks: thin, one service call each, safe to run twice."""

from celery import shared_task

from . import services


@shared_task(name="billing.grant_monthly_credits", ignore_result=True)
def grant_monthly_credits() -> int:
    """Each team's monthly AI credits, once per month (keyed grant:{team}:{yyyy-mm})."""
    return services.credits_grant_monthly_all()


@shared_task(name="billing.rollup_kpi", ignore_result=True)
def rollup_kpi() -> int:
    """Recompute yesterday's and today's KPI aggregates from their files (an upsert)."""
    return sum(r.rows for r in services.kpi_rollup())


@shared_task(name="billing.recompute_priors", ignore_result=True)
def recompute_priors() -> int:
    return len(services.priors_recompute()["workspaces"])
