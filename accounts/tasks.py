"""Accounts' Celery tasks: thin, one service call each, safe to run twice."""

from celery import shared_task


@shared_task(name="accounts.prune_login_attempts", ignore_result=True)
def prune_login_attempts() -> int:
    """Failed sign-in attempts older than the axes cool-off (they no longer lock anyone)."""
    from . import services

    return services.login_attempts_prune()


@shared_task(name="accounts.prune_mail", ignore_result=True)
def prune_mail() -> int:
    """Outgoing-mail files older than MAIL_RETENTION_DAYS (the embedded default's outbox)."""
    from . import services

    return services.mail_prune()


@shared_task(name="accounts.expire_invitations", ignore_result=True)
def expire_invitations() -> int:
    """Mark pending invitations past their expiry as expired (with history)."""
    from . import services

    return services.invitations_expire()


@shared_task(
    name="accounts.rebuild_graph_projections",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    expires=300,
)
def rebuild_graph_projections(user_ids: list[str]) -> int:
    """Rebuild the cached graph projections of these users from the edges (idempotent)."""
    from .graph import projection_rebuild

    for user_id in user_ids:
        projection_rebuild(user_id)
    return len(user_ids)
